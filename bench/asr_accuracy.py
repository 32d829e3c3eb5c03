"""Benchmark: recognition accuracy with and without the event's vocabulary, on both passes.

    python bench/asr_accuracy.py [--sentences 6] [--languages en,zh] [--json out.json]

Domain sentences (the two sample events of DOMAIN.md) are synthesised with espeak-ng (offline) and
recognised in two shapes — each sentence as its own clip, and all of them joined into one long
recording with a second of silence between sentences — by both recognisers:

- archive: `archive.transcript.Transcriber`, the archive pass (30-second windows, VAD, word timings);
- live: `archive.phrases.PhraseRecogniser`, the live captions (clips as phrases; the long recording cut
  into phrases by `server.captions.cutter.PhraseCutter`, as the live path cuts it),

each plain (no prompt) and biased (hotwords from the event's title, topics and glossary, through the
guards of archive/guards.py). Printed per run: WER (English) or CER (Chinese, punctuation ignored),
CPU-s per audio-second, and `twice`: reference sentences whose text appears in more than one output
line (a sentence written twice). Goal: biased ≤ plain on every row, twice = 0.
Mandarin: espeak-ng's `cmn` voice reads Chinese characters as pinyin with the tone digits spoken in
English ("ji one keng one…", espeak-ng 1.51 here), which Whisper cannot hear as Chinese. The sentences
are therefore turned into tone-numbered pinyin (pypinyin, neutral tone 5) and spoken by the
`cmn-latn-pinyin` voice (--zh-voice, --zh-rate, --zh-pitch choose the variant). No intelligible
offline Mandarin TTS installable from PyPI or Debian was found (bench/README.md says what was tried).
Not a test: numbers vary with the machine and whatever else runs on it.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import resource
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive.glossary import hotwords  # noqa: E402
from archive.model import resolve_model  # noqa: E402
from archive.phrases import PhraseRecogniser  # noqa: E402
from archive.transcript import Transcriber  # noqa: E402
from server.captions.cutter import PhraseCutter  # noqa: E402
from tests.archive.recordings import RATE, speak, word_error_rate, write_wav  # noqa: E402

SENTENCES = {
    "en": (
        "The foundation pit must be monitored every day.",
        "Settlement of the adjacent buildings is checked twice a week.",
        "Stop the excavation if the warning value is exceeded.",
        "Dewatering can lower the groundwater under nearby pipelines.",
        "The shield machine keeps the face pressure balanced.",
        "Cracks in the retaining wall must be reported at once.",
        "Leaks and hollow plaster are common quality defects.",
        "The owner may take part in the pre-handover inspection.",
    ),
    "zh": (
        "基坑开挖引起周边建筑沉降怎么办。",
        "盾构隧道穿越地铁保护区需要加强监测。",
        "降水会导致邻近管线沉降。",
        "施工单位每天要报送沉降监测数据。",
        "超过预警值必须立即停止开挖。",
        "住宅工程渗漏和开裂是常见的质量通病。",
        "业主预看房时发现空鼓应该及时整改。",
        "监理单位要对支护结构进行检查。",
    ),
}
VOICES = {"en": "en-us", "zh": "cmn-latn-pinyin+m3"}
# Words a minute for the pinyin voice: slower than espeak-ng's default 175 is easier to hear (measured
# on 4 sentences, live recogniser, plain: 0.89–0.95 CER at 80–100, 1.77 at 145).
ZH_RATE = 90
TITLE = ("地下工程施工扰动安全防范直播答疑", "Underground construction safety Q&A")
TOPICS = ["基坑", "盾构", "降水", "沉降监测"]
GAP_SECONDS = 1.0


def tone_pinyin(text: str) -> str:
    """`text` as tone-numbered pinyin syllables ("ji1 keng1 kai1 wa1"), punctuation as pauses."""
    from pypinyin import Style, lazy_pinyin

    out = []
    for syllable in lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True):
        syllable = syllable.strip().replace("ü", "v")
        if re.fullmatch(r"[a-zv]+[1-5]", syllable):
            out.append(syllable)
        elif re.search(r"[，,。.！!？?；;]", syllable):
            out.append(",")
    return " ".join(out).replace(" ,", ",").strip(", ")


def speak_zh(text: str, voice: str, rate: int, pitch: int) -> np.ndarray:
    """Mandarin through espeak-ng's pinyin voice, 16 kHz mono float32."""
    raw = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdout", tone_pinyin(text)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    with wave.open(io.BytesIO(raw)) as w:
        rate_in = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
    n = int(len(data) * RATE / rate_in)
    return np.interp(np.linspace(0, len(data) - 1, n), np.arange(len(data)), data).astype(np.float32)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def chars(text: str) -> list[str]:
    return [c for c in text if re.match(r"[\u3400-\u9fff0-9a-zA-Z]", c)]


def error_rate(language: str, reference: str, hypothesis: str) -> float:
    if language == "en":
        return word_error_rate(reference, hypothesis)
    ref, hyp = chars(reference), chars(hypothesis)
    row = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        previous, row[0] = row[0], i
        for j in range(1, len(hyp) + 1):
            current = min(row[j] + 1, row[j - 1] + 1, previous + (ref[i - 1] != hyp[j - 1]))
            previous, row[j] = row[j], current
    return row[len(hyp)] / max(len(ref), 1)


def twice(language: str, references: list[str], lines: list[str]) -> int:
    """Reference sentences found (by their middle part) in more than one output line."""
    count = 0
    for ref in references:
        key = "".join(chars(ref)).lower() if language == "zh" else " ".join(re.findall(r"[a-z']+", ref.lower()))
        middle = key[len(key) // 4 : len(key) * 3 // 4]
        normalised = [
            "".join(chars(ln)).lower() if language == "zh" else " ".join(re.findall(r"[a-z']+", ln.lower()))
            for ln in lines
        ]
        if middle and sum(middle in n for n in normalised) > 1:
            count += 1
    return count


def run_archive(
    transcriber: Transcriber, clips: list[np.ndarray], words: dict[str, str] | None, work: Path
) -> list[str]:
    lines: list[str] = []
    for i, clip in enumerate(clips):
        path = write_wav(work / f"clip-{i}.wav", clip)
        lines += [ln.text for ln in transcriber.transcribe(path, words)]
    return lines


def run_live(
    recogniser: PhraseRecogniser, clips: list[np.ndarray], words: dict[str, str] | None, long: bool
) -> list[str]:
    phrases = clips
    if long:
        cutter = PhraseCutter()
        audio = np.concatenate(clips)
        step = 320
        cuts = [c for i in range(0, len(audio), step) for c in cutter.push(audio[i : i + step], i / RATE)]
        phrases = [c.samples for c in (*cuts, *cutter.flush()) if c.final]
    heard = [recogniser.recognise(p, words) for p in phrases]
    return [h.text for h in heard if h is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=6)
    parser.add_argument("--languages", default="en,zh")
    parser.add_argument("--passes", default="archive,live")
    parser.add_argument("--zh-voice", default=VOICES["zh"], help="espeak-ng voice for the pinyin")
    parser.add_argument("--zh-rate", type=int, default=ZH_RATE, help="words a minute of the Mandarin voice")
    parser.add_argument("--zh-pitch", type=int, default=50, help="espeak-ng pitch 0–99 of the Mandarin voice")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    model = resolve_model("", Path(tempfile.gettempdir()) / "sitecast-bench-models")
    transcriber = Transcriber(model, threads=1)
    recogniser = PhraseRecogniser(Transcriber(model, threads=1))
    recogniser.load()
    transcriber.model()
    words = hotwords(TITLE[0], TITLE[1], TOPICS)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for language in args.languages.split(","):
            references = list(SENTENCES[language][: args.sentences])
            if language == "zh":
                voices = [speak_zh(text, args.zh_voice, args.zh_rate, args.zh_pitch) for text in references]
            else:
                voices = [speak(text, VOICES[language]) for text in references]
            gap = np.zeros(int(GAP_SECONDS * RATE), np.float32)
            separate = [np.concatenate([gap, v, gap]) for v in voices]
            joined = [np.concatenate([x for v in voices for x in (gap, v)] + [gap])]
            for shape, clips in (("clips", separate), ("long", joined)):
                seconds = sum(len(c) for c in clips) / RATE
                for pass_name in args.passes.split(","):
                    for bias in ("plain", "biased"):
                        prompt = words if bias == "biased" else None
                        before = cpu()
                        if pass_name == "archive":
                            lines = run_archive(transcriber, clips, prompt, work)
                        else:
                            lines = run_live(recogniser, clips, prompt, long=shape == "long")
                        used = cpu() - before
                        joiner = "" if language == "zh" else " "
                        row = {
                            "language": language,
                            "shape": shape,
                            "pass": pass_name,
                            "bias": bias,
                            "error": round(error_rate(language, joiner.join(references), joiner.join(lines)), 3),
                            "cpu_per_audio_second": round(used / seconds, 3),
                            "twice": twice(language, references, lines),
                            "lines": lines,
                        }
                        rows.append(row)
                        metric = "WER" if language == "en" else "CER"
                        print(
                            f"{language} {shape:5} {pass_name:7} {bias:6} {metric} {row['error']:.3f}  "
                            f"{row['cpu_per_audio_second']:.3f} CPU-s/s  twice {row['twice']}",
                            flush=True,
                        )
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
