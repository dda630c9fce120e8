"""The watchdog: restarts a supervised service that hangs, through supervisord's XML-RPC.

Runs under supervisord beside the five services. It reads heartbeats from the bus,
applies :mod:`services.watchdog.rules`, and asks supervisord to SIGKILL the stuck
process (supervisord's autorestart brings it back at once; a SIGTERM could wait on
a hung process for stopwaitsecs). Every action is a notice on the bus, so the UI
shows what happened.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import xmlrpc.client
from typing import Any

from services.watchdog.rules import Track, observe, observe_proc, proc_sample, verdict
from shared import logs
from shared.endpoints import SUPERVISED, runs_elsewhere
from shared.messages import Frame
from shared.service import Service

CHECK_S = 1.0
COOLDOWN_S = 15.0  # give a restarted service time to load before judging it again


def supervisor_proxy() -> Any:
    """XML-RPC proxy on supervisord's unix socket in the private state dir (see supervisord.conf: it
    survives the runtime dir being deleted)."""
    from supervisor.xmlrpc import SupervisorTransport

    sock = os.path.join(os.environ.get("LUNA_LOG_DIR", ""), "supervisor.sock")
    transport = SupervisorTransport(None, None, serverurl=f"unix://{sock}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


class WatchdogService(Service):
    name = "watchdog"
    listens = ()  # heartbeats only (always heard)

    def __init__(self) -> None:
        super().__init__()
        # in a satellite pair each host's watchdog restarts only what runs on its own host
        self.tracks: dict[str, Track] = {s: Track() for s in SUPERVISED if runs_elsewhere(s) is None}
        self.cooldown: dict[str, float] = {}
        self.rpc = supervisor_proxy()
        self.reached = False  # supervisord answered once: losing it later is news for the person

    def supervisor_lost(self) -> None:
        """Say once, in the user's language, that supervisord is gone (a kill -9) and what to do.

        Why: the services keep serving as orphans, so nothing looks wrong, but nothing
        restarts them any more; ``luna up`` stops them and starts one fresh set.
        """
        if str(self.settings.LANGUAGE).startswith("en"):
            text = ("supervisord stopped: Luna keeps working, but nothing restarts a failing service; "
                    "run `luna up` to start it again")
        else:
            text = ("o supervisord parou: o Luna segue funcionando, mas nada reinicia um serviço que falhe; "
                    "rode `luna up` para reiniciá-lo")
        self.notice("warning", text, "supervisord-lost")

    async def on_event(self, f: Frame) -> None:
        if f.type == "heartbeat" and f["service"] in self.tracks:
            observe(self.tracks[f["service"]], time.monotonic(), f["service"], f["state"], f["counters"],
                    f.get("info") or {}, f.get("pid"))

    def _running(self) -> dict[str, int]:
        """Process name -> pid for the RUNNING programs."""
        infos = self.rpc.supervisor.getAllProcessInfo()
        return {i["name"]: i["pid"] for i in infos if i.get("statename") == "RUNNING"}

    async def main(self) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(CHECK_S)
            try:
                running = await asyncio.to_thread(self._running)
            except Exception as exc:  # supervisord not reachable (run alone): say so once, keep watching
                if "rpc" not in self.problems:
                    self.log.warning("cannot reach supervisord: %s", exc)
                    if self.reached:
                        self.supervisor_lost()
                self.problems["rpc"] = f"watchdog cannot reach supervisord: {exc}"
                continue
            self.problems.pop("rpc", None)
            self.reached = True
            now = time.monotonic()
            for svc, track in self.tracks.items():
                if track.pid is not None and running.get(svc) == track.pid:
                    observe_proc(track, now, proc_sample(track.pid))  # busy or frozen?
                if now < self.cooldown.get(svc, 0):
                    continue
                spared = track.spared
                why = verdict(track, now, svc, svc in running)
                if track.spared > spared:
                    self.counters["busy_spared"] += 1
                    if self.counters["busy_spared"] % 10 == 1:
                        self.log.warning("%s is silent but busy (CPU or frames moving): not restarting yet", svc)
                if why:
                    await self._restart(svc, why)

    def _why(self, why: str) -> str:
        key = getattr(why, "key", None)
        return self.say(key, **why.fields) if key else why  # type: ignore[attr-defined]

    def tell(self, level: str, log_text: str, code: str, text: str) -> None:
        """A notice whose log line stays English (``luna diagnose`` counts restarts by it) and
        whose bus text is in the user's language."""
        self.log.log(logging.ERROR if level == "error" else logging.WARNING, log_text, extra={"fields": {"code": code}})
        self.publish("notice", service=self.name, level=level, text=logs.redact(text), code=code)

    async def _restart(self, svc: str, why: str) -> None:
        self.cooldown[svc] = time.monotonic() + COOLDOWN_S
        self.counters["restarts"] += 1
        self.tell("warning", f"watchdog: restarting {svc} ({why})", "watchdog-restart",
                  self.say("watchdog.restart", svc=svc, why=self._why(why)))
        try:
            await asyncio.to_thread(self.rpc.supervisor.signalProcess, svc, "KILL")
        except Exception as exc:
            self.tell("error", f"watchdog: could not restart {svc}: {exc}", "watchdog-failed",
                      self.say("watchdog.failed", svc=svc, err=exc))
        self.tracks[svc] = Track()
