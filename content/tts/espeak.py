"""The offline voice: libespeak-ng from the `espeakng-loader` wheel, driven through ctypes (no apt, no CLI).

The library keeps global state (one voice, one callback), so every synthesis holds a process-wide lock.
Output is 16-bit mono at 22,050 Hz.
"""
from __future__ import annotations

import ctypes
import threading

from content.types import Pcm
from loa.errors import LoaError

VOICES = {
    "vi": "vi",  # northern (Hà Nội)
    "vi-vn-x-central": "vi-vn-x-central",  # central (Huế)
    "vi-vn-x-south": "vi-vn-x-south",  # southern (Sài Gòn)
}
DEFAULT_VOICE = "vi"
SAMPLE_RATE = 22050

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_ESPEAK_CHARS_UTF8 = 1
_EE_OK = 0
_RATE, _PITCH = 1, 3  # espeak_PARAMETER values
_DEFAULT_WPM = 175

_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class EspeakError(LoaError, RuntimeError):
    """The espeak-ng library itself failed (the engine wraps it in an EngineError for callers)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self._describe("espeak_failed", f"espeak-ng lỗi: {message}", f"espeak-ng failed: {message}")


class _Espeak:
    """One loaded library for the whole process."""

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetVoiceByName.restype = ctypes.c_int
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]
        self.lib.espeak_Synth.restype = ctypes.c_int
        data_path = espeakng_loader.get_data_path().encode()
        rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
        if rate <= 0:
            raise EspeakError(f"espeak_Initialize failed ({rate})")
        self.rate = rate
        self._chunks: list[bytes] = []
        # Kept on the instance (module lifetime): a freed ctypes callback crashes the process.
        self._callback = _SYNTH_CALLBACK(self._on_samples)
        self.lib.espeak_SetSynthCallback(self._callback)

    def _on_samples(self, wav: ctypes._Pointer[ctypes.c_short], n: int, _events: int | None) -> int:
        if n > 0 and wav:
            # string_at copies in C; element-wise copying was measured 4x slower.
            self._chunks.append(ctypes.string_at(wav, n * 2))
        return 0  # 0 = continue

    def synth(self, text: str, voice: str, rate_wpm: int, pitch: int) -> bytes:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            raise EspeakError(f"unknown espeak voice {voice!r}")
        self.lib.espeak_SetParameter(_RATE, rate_wpm, 0)
        self.lib.espeak_SetParameter(_PITCH, pitch, 0)
        self._chunks = []
        data = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(data)
        err = self.lib.espeak_Synth(buf, len(data), 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None)
        if err != _EE_OK:
            raise EspeakError(f"espeak_Synth failed ({err})")
        self.lib.espeak_Synchronize()
        out, self._chunks = b"".join(self._chunks), []
        return out


_lock = threading.Lock()
_instance: _Espeak | None = None


def synthesize_pcm(text: str, voice: str = DEFAULT_VOICE, speed: float = 1.0, pitch: int = 50) -> Pcm:
    """Speak already-normalized text. `speed` 1.0 is espeak's default 175 words/min; `pitch` is 0–99."""
    global _instance
    if voice not in VOICES:
        raise EspeakError(f"unknown voice {voice!r}; choose one of {sorted(VOICES)}")
    if not 0.3 <= speed <= 3.0:
        raise EspeakError("speed must be between 0.3 and 3.0")
    if not 0 <= pitch <= 99:
        raise EspeakError("pitch must be between 0 and 99")
    with _lock:
        if _instance is None:
            _instance = _Espeak()
        raw = _instance.synth(text, VOICES[voice], int(_DEFAULT_WPM * speed), pitch)
        rate = _instance.rate
    return Pcm.from_int16(raw, rate)
