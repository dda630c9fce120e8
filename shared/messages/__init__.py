"""The message catalogue: every frame that travels on Luna's bus, its bounds, and the wire format.

This package is the bus contract; its modules each hold one job:

* :mod:`.spec`: what a frame type is (:class:`Spec`), the registries and :class:`FrameError`;
* the declarations by domain: :mod:`.life` (ready, heartbeat, notice, stopping),
  :mod:`.conversation` (user-text, command, the reply, status), :mod:`.history`
  (history, conversation, config), :mod:`.voice` (speech, transcripts, speaking/idle,
  turn-metrics), :mod:`.streams` (audio, sentence, pcm, flush, the echo reference) and
  :mod:`.commands` (every ``command`` name and its arguments); the nested keys of dict
  fields are in :mod:`shared.catalogue`;
* :mod:`.bounds` (lengths, ranges, command arguments), :mod:`.declared` (strict runs);
* :mod:`.frame` (:class:`Frame`, :func:`make`, :func:`validate`), :mod:`.wire`
  (encode/decode), :mod:`.typed` (:data:`TYPES`), :mod:`.describe` (``luna catalogue``).

Importers use the names below (``from shared.messages import Frame, make``). The
declaration modules are imported first, in the catalogue's order, so the registries are
complete before :mod:`.typed` generates a class per frame.
"""

from __future__ import annotations

# isort: off
# The catalogue's order (``luna catalogue``, TYPES) is the order these declaration modules register in.
from shared.messages import life, conversation, history, voice, streams, commands  # noqa: F401
# isort: on
from shared.messages.bounds import (
    INT_RANGE,
    LIMITS,
    MAX_ENVELOPE_BYTES,
    MAX_EPOCH,
    MAX_KEYS,
    MAX_LIST,
    MAX_PAYLOAD_BYTES,
    MAX_STR,
    MAX_USER_TEXT_BYTES,
    check_bounds,
    check_command,
    clip_strings,
    text_too_long,
)
from shared.messages.declared import STRICT, check_declared
from shared.messages.describe import describe
from shared.messages.frame import Frame, make, validate
from shared.messages.spec import (
    CATALOGUE,
    COMMAND_DOCS,
    COMMANDS,
    EVENT,
    EVENT_PREFIX,
    STREAM,
    STREAM_PREFIX,
    FrameError,
    Spec,
)
from shared.messages.typed import TYPES
from shared.messages.wire import decode_event, decode_stream, encode_event, encode_stream, encode_summary

__all__ = [
    "CATALOGUE", "COMMANDS", "COMMAND_DOCS", "EVENT", "EVENT_PREFIX", "INT_RANGE", "LIMITS", "MAX_ENVELOPE_BYTES",
    "MAX_EPOCH", "MAX_KEYS", "MAX_LIST", "MAX_PAYLOAD_BYTES", "MAX_STR", "MAX_USER_TEXT_BYTES", "STREAM",
    "STREAM_PREFIX", "STRICT", "TYPES", "Frame", "FrameError", "Spec", "check_bounds", "check_command",
    "check_declared", "clip_strings", "decode_event", "decode_stream", "describe", "encode_event",
    "encode_stream", "encode_summary", "make", "text_too_long", "validate",
]
