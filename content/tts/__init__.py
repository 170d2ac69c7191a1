"""Text-to-speech: engines behind one interface (`espeak`, `gtts`, `piper`, and the `auto` fallback chain),
with the Vietnamese normalizer in front and a render cache behind. Callers use `synthesize`."""
from content.tts.base import EngineError, TtsEngine
from content.tts.espeak_engine import EspeakEngine
from content.tts.gtts_engine import GttsEngine
from content.tts.piper_engine import PiperEngine, PiperVoiceFile, discover_voices, load_piper_voice
from content.tts.registry import AUTO, AUTO_ORDER, EngineRegistry, TtsConfig
from content.tts.render import RenderCache, default_registry, synthesize

__all__ = [
    "AUTO", "AUTO_ORDER", "EngineError", "EngineRegistry", "EspeakEngine", "GttsEngine", "PiperEngine",
    "PiperVoiceFile", "RenderCache", "TtsConfig", "TtsEngine", "default_registry", "discover_voices",
    "load_piper_voice", "synthesize",
]
