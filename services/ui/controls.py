"""What the user changes in the other services from the UI, each as one bus command and a toast.

The microphone's mute (whose state the status bar shows), the listen mode and push-to-talk
(stt decides and reports them on its heartbeat), a provider/model per function, a model to
pull, and the soul reloaded after the editor saved it. The keys, the palette, the slash
commands and the screens' messages all come here, so a command name is written once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.ui.i18n import t

if TYPE_CHECKING:
    from services.ui.app import LunaApp

#: LISTEN_MODE values in the order the palette entry steps through them.
LISTEN_MODES = ("always", "name", "wake", "push")


class Controls:
    def __init__(self, app: LunaApp) -> None:
        self.app = app
        self.muted = False  # the microphone, as the user last set it

    def toggle_mute(self) -> None:
        app = self.app
        self.muted = not self.muted
        app.client.command("mute" if self.muted else "unmute")
        app.notify(t("muted") if self.muted else t("unmuted"), timeout=1.5)
        app.refresh_status()

    def next_listen_mode(self) -> None:
        """The next LISTEN_MODE after the one stt's heartbeat reports (the status bar shows the change)."""
        app = self.app
        now = str(app.client.peers.info.get("stt", {}).get("listen_mode") or "always")
        mode = LISTEN_MODES[(LISTEN_MODES.index(now) + 1) % len(LISTEN_MODES)] if now in LISTEN_MODES else "always"
        app.client.command("listen-mode", mode=mode)
        app.notify(t("listen_" + mode), timeout=1.5)

    def talk(self) -> None:
        self.app.client.command("talk-toggle")

    def config_set(self, function: str, provider: str, model: str) -> None:
        """The settings screen's choice to the brain; the toast names it (no model: the provider's default)."""
        self.app.client.command("config-set", function=function, provider=provider, model=model)
        who = f"{provider}/{model}" if model else f"{provider} ({t('settings_default')})"
        self.app.notify(t("settings_sent", fn=t(f"fn_{function}"), who=who), timeout=3)

    def pull(self, model: str) -> None:
        self.app.client.command("pull", model=model)

    def soul_reload(self) -> None:
        self.app.client.command("soul-reload")
        self.app.notify(t("soul_saved"), timeout=2)
