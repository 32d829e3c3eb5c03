"""One short phrase of speech → one line of text: the live captions' recogniser.

faster-whisper's `transcribe` pads every call to a 30-second window; the encoder then costs the same
for a 2-second phrase as for 30 seconds of speech (≈3.3 CPU-s here against ≈0.27 for a 4-second
input). CTranslate2's Whisper encoder accepts shorter inputs, so a phrase is encoded at its own length
(plus a little silence), its language chosen between Chinese and English, and decoded with Whisper's
timestamps, which serve one guard: text in a segment that starts after the phrase's audio ended (in the
silence appended to it) was never heard — a biased decode likes to write glossary terms there, glued to
the real sentence — and is dropped. Synchronous: call it from a worker thread, never from the event loop.

Biasing never inserts text: the phrase is decoded with the event's vocabulary as a prompt, and when
the result fails the guards (archive/guards.py: a loop, more text than the span can hold, the prompt
echoed back) it is decoded again without the prompt; if that fails too, nothing is shown. The number
of tokens a decode may produce is bounded by the phrase's length, so a loop stops early.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archive import guards
from archive.glossary import vocabulary
from archive.transcript import LANGUAGES, Transcriber

SAMPLE_RATE = 16_000
# Silence appended to a phrase. With a short input Whisper tends to start the sentence over at the
# end ("…every day. The foundation"); 0.3 s of silence did that here, 1.5 s did not.
TAIL_PAD_SECONDS = 1.5
# Tokens a decode may write per second of speech (+ a few): Mandarin ≈ 1 token per character at
# ≤ 6 characters a second, English ≈ 1.3 per word at ≤ 3.5 words a second. More is a loop.
MAX_TOKENS_PER_SECOND = 10
MIN_TOKENS = 8
# Timestamp tokens a decode may add beyond the text's budget (a pair per segment; a phrase has few).
TIMESTAMP_TOKENS = 8
# Whisper's timestamp tokens count 20 ms each from the start of the input.
TIMESTAMP_SECONDS = 0.02
# A segment starting this close to the end of the phrase's audio (or later) holds no word that was heard.
SPAN_END_MARGIN_SECONDS = 0.1
# Whisper's "nothing was said" judgement, as its own transcribe uses it.
NO_SPEECH_PROBABILITY = 0.6
LOW_AVERAGE_LOGPROB = -1.0


@dataclass(frozen=True)
class Heard:
    language: str
    text: str
    biased: bool  # the prompted decode was kept (False: it failed the guards, or there was no prompt)


class PhraseRecogniser:
    """Wraps a loaded Transcriber's model; one call at a time (the model is not re-entrant here)."""

    def __init__(self, transcriber: Transcriber, beam_size: int = 1) -> None:
        self.transcriber = transcriber
        self.beam_size = beam_size
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model and run it once: CTranslate2's first call allocates its buffers (seconds on
        a busy machine), which would otherwise land on the first caption of the first event."""
        self.transcriber.model()
        self.recognise(np.zeros(SAMPLE_RATE, np.float32))

    def recognise(self, samples: np.ndarray, hotwords: Mapping[str, str] | None = None) -> Heard | None:
        """The line said in `samples` (16 kHz mono float32), or None (silence, noise, or no safe reading)."""
        seconds = len(samples) / SAMPLE_RATE
        if seconds <= 0.05:
            return None
        with self._lock:
            model = self.transcriber.model()
            encoded = self._encode(model, samples)
            language = self._language(model, encoded)
            from faster_whisper.tokenizer import Tokenizer

            tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language=language)
            prompt = (hotwords or {}).get(language, "")
            prompts = vocabulary(hotwords or {})
            if prompt:
                text = self._decode(model, encoded, tokenizer, prompt, seconds)
                line = (
                    None if text is None else guards.checked(self._script(text, language), language, seconds, prompts)
                )
                if line:
                    return Heard(language, line, True)
            text = self._decode(model, encoded, tokenizer, "", seconds)
            line = None if text is None else guards.checked(self._script(text, language), language, seconds, prompts)
            return Heard(language, line, False) if line else None

    def _script(self, text: str, language: str) -> str:
        return self.transcriber.simplified(text) if language == "zh" else text

    def _encode(self, model: Any, samples: np.ndarray) -> Any:
        audio = np.concatenate([samples.astype(np.float32), np.zeros(int(TAIL_PAD_SECONDS * SAMPLE_RATE), np.float32)])
        features = model.feature_extractor(audio)
        frames = features.shape[-1] - (features.shape[-1] % 2)  # the encoder's convolution halves the frames
        return model.encode(np.ascontiguousarray(features[:, :frames]))

    def _language(self, model: Any, encoded: Any) -> str:
        # model.model is archive.transcript._ZhEnOnly: the first answer is zh or en.
        first = model.model.detect_language(encoded)[0][0][0]
        code = first.strip("<|>")
        return code if code in LANGUAGES else "zh"

    def _decode(self, model: Any, encoded: Any, tokenizer: Any, prompt: str, seconds: float) -> str | None:
        from faster_whisper.transcribe import get_suppressed_tokens

        tokens = model.get_prompt(tokenizer, [], without_timestamps=False, hotwords=prompt or None)
        budget = MIN_TOKENS + math.ceil(seconds * MAX_TOKENS_PER_SECOND)
        result = model.model.generate(
            encoded,
            [tokens],
            beam_size=self.beam_size,
            max_length=min(len(tokens) + budget + TIMESTAMP_TOKENS, model.max_length),
            suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1]) or []),
            return_scores=True,
            return_no_speech_prob=True,
        )[0]
        written = result.sequences_ids[0]
        text_ids = [t for t in written if t < tokenizer.eot]
        average = result.scores[0] if text_ids else -math.inf  # length-normalised log probability
        if result.no_speech_prob > NO_SPEECH_PROBABILITY and average < LOW_AVERAGE_LOGPROB:
            return None
        if len(text_ids) >= budget or len(written) >= budget + TIMESTAMP_TOKENS:
            return None  # it never stopped on its own: a loop, or text the phrase cannot hold
        return str(tokenizer.decode(heard_ids(written, tokenizer.eot, tokenizer.timestamp_begin, seconds))).strip()


def heard_ids(written: Sequence[int], eot: int, timestamp_begin: int, seconds: float) -> list[int]:
    """The text tokens of a timestamped decode that lie within the phrase's `seconds` of audio.

    A segment's text follows its start timestamp (Whisper writes `<start> text <end>`, an end and the next
    start often the same); a segment starting within SPAN_END_MARGIN_SECONDS of the audio's end, or later,
    was written over the appended silence and is dropped with everything after it."""
    heard: list[int] = []
    limit = seconds - SPAN_END_MARGIN_SECONDS
    start = 0.0  # text before any timestamp starts at the beginning
    for token in written:
        if token >= timestamp_begin:
            start = (token - timestamp_begin) * TIMESTAMP_SECONDS
        elif token < eot:
            if start >= limit:
                break
            heard.append(token)
    return heard
