"""Speech → timed text with faster-whisper (CTranslate2, int8 on CPU). Synchronous: call it from a
worker thread (the job runner does), never from the event loop.

- VAD (Silero, shipped inside faster-whisper) skips silence, which is most of a Q&A recording.
- The language is detected per 30-second window, between Chinese and English only: Whisper base
  otherwise hears accented Mandarin as Cantonese or Japanese now and then.
- Chinese comes out in Simplified characters (OpenCC t2s), whatever script Whisper chose.
- Decoding is biased towards the event's title, topics and the trade's glossary (`hotwords`).
"""

from __future__ import annotations

import bisect
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive import audio, guards
from archive.glossary import vocabulary
from archive.jobs import JobFailed

# No library may reach a model hub at run time (the model is installed from PyPI or ASR_MODEL).
for _flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ.setdefault(_flag, "1")

LANGUAGES = ("zh", "en")
BEAM_SIZE = 5
# Whisper's word timings place a line's start and end within a few hundred ms; segment timings
# alone snap to the window's coarse timestamp tokens (up to ~1 s early).
WORD_TIMESTAMPS = True
# A short tail Whisper split off a sentence ("…how to evacuate" | "people.") rejoins it.
MERGE_SHORTER_THAN_SECONDS = 1.5
MERGE_GAP_SECONDS = 0.3
MERGED_MAX_SECONDS = 15.0
_SENTENCE_END = re.compile(r"[.!?。！？…]$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Line:
    start: float  # seconds on the recording clock
    end: float
    language: str
    text: str


class Cancelled(Exception):
    """The job was stopped (shutdown) while transcribing."""


class _ZhEnOnly:
    """Wraps the CTranslate2 Whisper model so language detection only ever answers zh or en.

    faster-whisper reads the first entry of `detect_language` as the detected language, both for
    the whole file and (multilingual=True) for every 30-second window; putting the more likely of
    zh and en first restricts both without another pass of the encoder."""

    def __init__(self, model: Any, allowed: Sequence[str]) -> None:
        self._model = model
        self._allowed = frozenset(f"<|{code}|>" for code in allowed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def detect_language(self, *args: Any, **kwargs: Any) -> list[list[tuple[str, float]]]:
        results = self._model.detect_language(*args, **kwargs)
        out = []
        for probs in results:
            keep = [p for p in probs if p[0] in self._allowed]
            out.append(keep + [p for p in probs if p[0] not in self._allowed])
        return out


# Hotwords travel through faster-whisper as one string; the prompt hook below splits it per language.
_LANG_SEP, _TEXT_SEP = "\x1e", "\x1f"


def _encode_hotwords(per_language: Mapping[str, str]) -> str:
    return _LANG_SEP.join(f"{lang}{_TEXT_SEP}{text}" for lang, text in per_language.items() if text)


def _decoded_hotwords(encoded: str | None) -> dict[str, str]:
    if not encoded:
        return {}
    if _TEXT_SEP not in encoded:
        return {"": encoded}
    return dict(part.split(_TEXT_SEP, 1) for part in encoded.split(_LANG_SEP))


def _hotwords_for(encoded: str | None, language: str) -> str | None:
    if not encoded or _TEXT_SEP not in encoded:
        return encoded
    table = dict(part.split(_TEXT_SEP, 1) for part in encoded.split(_LANG_SEP))
    return table.get(language) or None


class Transcriber:
    """One loaded model, reused for every job of the process (loading takes about a second)."""

    def __init__(self, model_dir: Path, threads: int = 0) -> None:
        self.model_dir = model_dir
        self.threads = threads or max(1, (os.cpu_count() or 2) // 2)
        self._model: Any = None
        self._lock = threading.Lock()
        self._converter: Any = None

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                try:
                    model = WhisperModel(
                        str(self.model_dir),
                        device="cpu",
                        compute_type="int8",
                        cpu_threads=self.threads,
                        local_files_only=True,
                    )
                except (RuntimeError, ValueError, OSError) as exc:
                    raise JobFailed(f"the speech model at {self.model_dir} could not be loaded: {exc}") from None
                model.model = _ZhEnOnly(model.model, LANGUAGES)
                original = model.get_prompt

                def get_prompt(
                    tokenizer: Any, previous_tokens: Any, *args: Any, hotwords: Any = None, **kw: Any
                ) -> Any:
                    # Called per 30-second window after its language was detected.
                    chosen = _hotwords_for(hotwords, tokenizer.language_code)
                    return original(tokenizer, previous_tokens, *args, hotwords=chosen, **kw)

                model.get_prompt = get_prompt
                self._model = model
            return self._model

    def model(self) -> Any:
        """The loaded faster-whisper model (loaded on first use; thread-safe)."""
        return self._load()

    def simplified(self, text: str) -> str:
        return self._simplified(text)

    def _simplified(self, text: str) -> str:
        if self._converter is None:
            import opencc

            self._converter = opencc.OpenCC("t2s")
        return str(self._converter.convert(text))

    def transcribe(
        self,
        recording: Path,
        hotwords: Mapping[str, str] | None = None,
        progress: Callable[[float], None] | None = None,
        stop: threading.Event | None = None,
    ) -> list[Line]:
        """Every spoken line of `recording`, timed on its clock. JobFailed on unusable input."""
        model = self._load()
        total = max(audio.recording_duration(recording), 1e-6)
        encoded = _encode_hotwords(hotwords or {})
        lines: list[Line] = []

        def heard(until: float) -> None:  # seconds of the recording transcribed so far
            if progress is not None:
                progress(min(until / total, 0.99))

        for block in audio.blocks(recording):
            lines += self._block(model, block, encoded, stop, heard)
            heard(block.end)
        return merge_fragments(lines)

    def _block(
        self,
        model: Any,
        block: audio.Block,
        hotwords: str,
        stop: threading.Event | None,
        heard: Callable[[float], None],
    ) -> Iterator[Line]:
        pauses = Pauses(block.samples)
        lines = []
        for line in self._lines(model, block.samples, 0.0, pauses, hotwords, stop):
            lines.append(line)
            heard(block.start + line.end)
        # A prompt now and then makes Whisper end a window early, dropping the speech after it.
        # Speech the first pass did not cover is transcribed again on its own, without the prompt.
        for start, end in pauses.uncovered([(ln.start, ln.end) for ln in lines]):
            lo = max(0, int((start - RETRY_PAD_SECONDS) * audio.SAMPLE_RATE))
            hi = int((end + RETRY_PAD_SECONDS) * audio.SAMPLE_RATE)
            again = Pauses(block.samples[lo:hi])
            for line in self._lines(model, block.samples[lo:hi], lo / audio.SAMPLE_RATE, again, "", stop):
                # Never a sentence twice: the retry may hear again what a line nearby already holds.
                near = [ln.text for ln in lines if abs(ln.start - line.start) < REPEAT_WINDOW_SECONDS]
                if not guards.is_repeat_of(line.text, near):
                    lines.append(line)
        for ln in sorted(lines, key=lambda ln: ln.start):
            yield Line(round(block.start + ln.start, 3), round(block.start + ln.end, 3), ln.language, ln.text)

    def _lines(
        self, model: Any, samples: Any, offset: float, pauses: Pauses, hotwords: str, stop: threading.Event | None
    ) -> Iterator[Line]:
        segments, _info = model.transcribe(
            samples,
            beam_size=BEAM_SIZE,
            vad_filter=True,
            multilingual=True,
            hotwords=hotwords or None,
            # Each window on its own: a misheard window cannot drag the next into a repetition loop.
            condition_on_previous_text=False,
            word_timestamps=WORD_TIMESTAMPS,
        )
        prompts = vocabulary(_decoded_hotwords(hotwords))
        speech_end = (pauses.ends[-1] if pauses.ends else len(samples) / audio.SAMPLE_RATE) + BEYOND_SPEECH_SECONDS
        for seg in segments:
            if stop is not None and stop.is_set():
                raise Cancelled
            words = [Word(float(w.start), float(w.end), w.word) for w in (seg.words or []) if w.word.strip()]
            if not words and seg.text.strip():
                words = [Word(float(seg.start), float(seg.end), seg.text)]
            # Words timed past the last speech the VAD heard were not heard: Whisper ran on.
            words = [w for w in words if w.start < speech_end]
            for start, end, text in split_lines(pauses.snap(words)):
                language = "zh" if _CJK.search(text) else "en"
                if language == "zh":
                    text = self._simplified(text)
                # A line that cannot have come from its span (a loop, later sentences pulled in, the
                # prompt echoed) is dropped: its speech is then uncovered and decoded again, unprompted.
                kept = guards.checked(text, language, end - start, prompts)
                if kept:
                    yield Line(offset + start, offset + end, language, kept)


# Speech separated by at least this much silence is two utterances (a transcript line breaks there).
PAUSE_MILLISECONDS = 700
SPEECH_PAD_MILLISECONDS = 100
# Speech this long left without a transcript line is transcribed again, with this much context.
MISSED_SPEECH_SECONDS = 0.6
RETRY_PAD_SECONDS = 0.3
# A retried line equal to a line within this many seconds of it is the same sentence heard twice.
REPEAT_WINDOW_SECONDS = 30.0
# Words Whisper timed this far past the end of the last speech the VAD found are dropped.
BEYOND_SPEECH_SECONDS = 1.0


class Pauses:
    """Where the speaker paused, from a fine-grained VAD pass (about 0.002 CPU-s per audio second).

    Whisper's word timings give the first word after a pause the pause itself (it starts where the
    previous word ended), which would start a line up to the whole pause early and hide the break."""

    def __init__(self, samples: Any) -> None:
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        options = VadOptions(min_silence_duration_ms=PAUSE_MILLISECONDS, speech_pad_ms=SPEECH_PAD_MILLISECONDS)
        chunks = get_speech_timestamps(samples, options)
        self.starts = [c["start"] / audio.SAMPLE_RATE for c in chunks]
        self.ends = [c["end"] / audio.SAMPLE_RATE for c in chunks]

    def uncovered(self, spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        """Stretches of speech (at least MISSED_SPEECH_SECONDS) that no span overlaps by half."""
        missed = []
        for start, end in zip(self.starts, self.ends, strict=True):
            if end - start < MISSED_SPEECH_SECONDS:
                continue
            overlap = sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)
            if overlap < (end - start) / 2:
                missed.append((start, end))
        return missed

    def snap(self, words: Sequence[Word]) -> list[Word]:
        """Each word tagged with its utterance; a word that began in silence begins with the speech."""
        out = []
        for w in words:
            i = bisect.bisect_right(self.starts, w.end) - 1
            start = max(w.start, self.starts[i]) if i >= 0 else w.start
            out.append(Word(min(start, w.end), w.end, w.text, i))
        return out


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str  # as Whisper spells it: English words carry their leading space, Chinese ones none
    utterance: int = -1  # index of the stretch of speech (between pauses) it belongs to


# A transcript line is a sentence, or what was said between two pauses, and never longer than a
# caption a person can read at once.
PAUSE_SECONDS = 0.8
MIN_SENTENCE_SECONDS = 1.0
SOFT_MAX_LINE_SECONDS = 10.0  # past this, break at the next comma
HARD_MAX_LINE_SECONDS = 16.0
_CLAUSE_END = re.compile(r"[,;:，；：、]$")


def split_lines(words: Sequence[Word]) -> Iterator[tuple[float, float, str]]:
    current: list[Word] = []

    def flush() -> tuple[float, float, str]:
        text = "".join(w.text for w in current).strip()
        return current[0].start, max(current[-1].end, current[0].start), text

    for word in words:
        if current and (
            word.utterance != current[-1].utterance
            or word.start - current[-1].end >= PAUSE_SECONDS
            or word.end - current[0].start > HARD_MAX_LINE_SECONDS
        ):
            yield flush()
            current = []
        current.append(word)
        duration = word.end - current[0].start
        token = word.text.strip()
        if (_SENTENCE_END.search(token) and duration >= MIN_SENTENCE_SECONDS) or (
            _CLAUSE_END.search(token) and duration >= SOFT_MAX_LINE_SECONDS
        ):
            yield flush()
            current = []
    if current:
        yield flush()


def merge_fragments(lines: Sequence[Line]) -> list[Line]:
    """Rejoin a short fragment to the sentence it ends, when Whisper cut mid-sentence."""
    out: list[Line] = []
    for line in lines:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.language == line.language
            and line.end - line.start < MERGE_SHORTER_THAN_SECONDS
            and line.start - prev.end <= MERGE_GAP_SECONDS
            and line.end - prev.start <= MERGED_MAX_SECONDS
            and not _SENTENCE_END.search(prev.text)
        ):
            joiner = "" if line.language == "zh" else " "
            out[-1] = Line(prev.start, line.end, prev.language, prev.text + joiner + line.text)
        else:
            out.append(line)
    return out
