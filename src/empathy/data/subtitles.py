"""Subtitle files (.srt, .vtt) read as speaker turns or running text.

Why it exists: talks, podcasts and recorded sessions often reach us only as
subtitles. Their text is cut into short timed cues, wrapped in markup and
marked for speakers in several ways, so it cannot go to the transcript loader
or to content-type detection as it is. This module strips the indices,
timings and tags, keeps the speakers, and joins the cues back into turns.

    from empathy.data.subtitles import read_subtitles
    subs = read_subtitles("episode.vtt")          # SubtitleError (a UserError) names file and cue if malformed
    subs.turns()    # [Turn(speaker="Host", text="Welcome to the show ..."), ...]; speaker None where unmarked
    subs.text()     # running text, one paragraph a turn

Speakers are taken from what subtitle writers actually use:

- a WebVTT voice tag, `<v Host>Welcome back` (also `<v.loud Host>`);
- a label at the start of a line, `HOST: Welcome back` or `Dr Okafor: ...` (up to three capitalised words or
  numbers, so "Speaker 2:" counts and "and then: ..." does not);
- a dash (`- `) or a broadcast chevron (`>> `) at the start of a line, which marks a change of speaker whose
  name is not given.

A cue without a mark continues the current speaker's turn, as in captions where only the first cue of a turn
is labelled. Sound descriptions such as `[laughs]` or `(applause)` are kept in the text: they are part of what
was heard, and content-type detection reads them.

Strictness: a timing line that cannot be read, a cue that ends before it starts, a WebVTT file without its
`WEBVTT` header, or a file with no cues is an error that names the file, the cue number (1-based, counting
cues in file order) and the line. A cue with timing but no text is skipped: subtitle tools emit them for
pauses.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from empathy.errors import UserError

SubtitleFormat = Literal["srt", "vtt"]

_TIME = r"(?:(\d{1,3}):)?(\d{1,2}):(\d{1,2})[,.](\d{1,3})"
# SRT puts optional display coordinates after the end time, WebVTT puts cue settings there: both are ignored.
TIMING_RE = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s+.*)?$")
# what a timing line looks like even when malformed (a short arrow, a missing field), so that the error says
# "malformed timing" rather than "no timing line"
_TIMINGISH_RE = re.compile(
    r"-->|^\s*(?:\d{1,3}:)?\d{1,2}:\d{1,2}(?:[,.:]\d{1,3})?\s*\S{0,4}\s*(?:\d{1,3}:)?\d{1,2}:\d{1,2}")
VOICE_RE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>|<\d{1,2}:\d{2}(?::\d{2})?[.,]\d{1,3}>")
_ASS_RE = re.compile(r"\{\\[^}]*\}")          # {\an8} and other positioning overrides some SRT writers add
LABEL_RE = re.compile(r"^([A-Z][A-Za-z0-9.'_-]*(?: (?:[A-Z][A-Za-z0-9.'_-]*|\d+)){0,2}):\s+(.*)$")
_DASH_RE = re.compile(r"^[-\u2013\u2014]\s+(.*)$")
_CHEVRON_RE = re.compile(r"^>>\s*(.*)$")


class SubtitleError(UserError):
    """A subtitle file that cannot be read: the message names the file, and the cue and line where it applies."""


@dataclass(frozen=True)
class Segment:
    """One speaker's part of a cue: a cue with two dashed lines has two segments."""
    speaker: str | None
    new_turn: bool          # a speaker mark (label, voice tag, dash, chevron) starts this segment
    text: str


@dataclass(frozen=True)
class Cue:
    number: int             # position among the file's cues, 1-based: what error messages name
    line: int               # line of the timing line in the file
    identifier: str | None  # the SRT index or the WebVTT cue identifier, as written
    start: float            # seconds
    end: float
    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)


@dataclass(frozen=True)
class SubtitleTurn:
    speaker: str | None
    text: str


@dataclass
class Subtitles:
    name: str
    format: SubtitleFormat
    cues: list[Cue]

    def turns(self) -> list[SubtitleTurn]:
        """Consecutive segments of one speaker joined into a turn.

        A named mark starts a new turn only when the name changes (captioners often repeat the label on every
        cue of a turn); a dash or chevron, which names nobody, always does.
        """
        turns: list[tuple[str | None, list[str]]] = []
        for cue in self.cues:
            for seg in cue.segments:
                if not turns or seg.new_turn and (seg.speaker is None or seg.speaker != turns[-1][0]):
                    turns.append((seg.speaker, [seg.text]))
                else:
                    turns[-1][1].append(seg.text)
        return [SubtitleTurn(speaker, " ".join(parts)) for speaker, parts in turns]

    def text(self) -> str:
        return "\n\n".join(t.text for t in self.turns())

    @property
    def labelled(self) -> bool:
        """Whether any speaker is named (a dash only says that the speaker changed)."""
        return any(s.speaker for c in self.cues for s in c.segments)

    @property
    def duration(self) -> float:
        return max(c.end for c in self.cues) - min(c.start for c in self.cues)


def _seconds(groups: tuple[str | None, ...]) -> tuple[float, str | None]:
    hours, minutes, secs, frac = groups
    if int(minutes) > 59 or int(secs) > 59:
        return 0.0, f"{minutes}:{secs} is not a valid minutes:seconds value"
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(secs) + int(frac.ljust(3, "0")) / 1000, None


def _clean(line: str) -> str:
    line = _ASS_RE.sub("", line)
    line = _TAG_RE.sub("", line)
    return " ".join(html.unescape(line).replace("\u200e", "").replace("\u200f", "").split())


def _segments(payload: list[str]) -> list[Segment]:
    """Split a cue's text lines into speaker segments (see the module docstring for the marks)."""
    segments: list[Segment] = []
    pending: str | None = None     # a voice tag alone on its line names the speaker of the next line
    for raw in payload:
        # a voice tag may open several spans on one line: <v A>Hi</v> <v B>Hello
        parts = VOICE_RE.split(raw)
        chunks = [(pending, parts[0])] + [(parts[i].strip(), parts[i + 1]) for i in range(1, len(parts), 2)]
        pending = None
        for voice, chunk in chunks:
            text = _clean(chunk)
            if not text:
                pending = voice or pending
                continue
            speaker, new_turn = voice, voice is not None
            for rx in (_CHEVRON_RE, _DASH_RE):
                m = rx.match(text)
                if m:
                    text, new_turn = m.group(1).strip(), True
            m = LABEL_RE.match(text)
            if m and not voice:
                speaker, text, new_turn = m.group(1), m.group(2).strip(), True
            if text:
                segments.append(Segment(speaker, new_turn, text))
    return segments


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of each blank-line-separated block."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for n, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            if not current:
                start = n
            current.append(line.rstrip())
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def detect_format(text: str, name: str = "") -> SubtitleFormat | None:
    """'vtt' or 'srt' by the file name's suffix, else by the content; None for text that is not subtitles."""
    suffix = Path(name).suffix.lower()
    if suffix in (".srt", ".vtt"):
        return suffix[1:]  # type: ignore[return-value]
    body = text.lstrip("\ufeff").lstrip()
    if body.startswith("WEBVTT"):
        return "vtt"
    first = _blocks(body.replace("\r\n", "\n").replace("\r", "\n"))[:1]
    if first and any(TIMING_RE.match(line) for line in first[0][1][:2]):
        return "srt"
    return None


def parse_subtitles(text: str, name: str = "<text>", fmt: SubtitleFormat | None = None) -> Subtitles:
    """Parse the content of an .srt or .vtt file; `name` is what error messages call it."""
    fmt = fmt or detect_format(text, name)
    if fmt not in ("srt", "vtt"):
        raise SubtitleError(f"{name}: not a subtitle file (expected a WEBVTT header or an SRT timing line)")
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    blocks = _blocks(text)
    if not blocks:
        raise SubtitleError(f"{name}: no cues found (the file is empty)")
    if fmt == "vtt":
        first = blocks[0][1][0]
        if not (first == "WEBVTT" or first.startswith(("WEBVTT ", "WEBVTT\t"))):
            raise SubtitleError(f"{name}: not a WebVTT file (line {blocks[0][0]} must start with 'WEBVTT', "
                                f"found {first[:40]!r})")
        blocks = blocks[1:]
    sep = "," if fmt == "srt" else "."
    cues: list[Cue] = []
    number = 0
    for start_line, lines in blocks:
        if fmt == "vtt" and lines[0].split(" ")[0] in ("NOTE", "STYLE", "REGION") \
                and not _TIMINGISH_RE.search(lines[0]):
            continue
        number += 1
        where = f"{name}, cue {number} (line {start_line})"
        timing_at = next((i for i, line in enumerate(lines[:2]) if _TIMINGISH_RE.search(line)), None)
        if timing_at is None:
            if fmt == "srt" and lines[0].strip().isdigit() and len(lines) == 1:
                raise SubtitleError(f"{where}: index {lines[0].strip()} has no timing line after it")
            raise SubtitleError(f"{where}: expected a timing line like '00:00:01{sep}000 --> 00:00:04{sep}000', "
                                f"found {lines[0][:60]!r}")
        identifier = lines[0].strip() if timing_at == 1 else None
        if fmt == "srt" and identifier is not None and not identifier.isdigit():
            raise SubtitleError(f"{where}: SRT cue index must be a number, found {identifier[:40]!r}")
        timing = lines[timing_at]
        where = f"{name}, cue {number} (line {start_line + timing_at})"
        m = TIMING_RE.match(timing)
        if m is None:
            raise SubtitleError(f"{where}: malformed timing {timing.strip()[:60]!r}; expected "
                                f"'HH:MM:SS{sep}mmm --> HH:MM:SS{sep}mmm'")
        begin, err_a = _seconds(m.groups()[:4])
        end, err_b = _seconds(m.groups()[4:])
        if err_a or err_b:
            raise SubtitleError(f"{where}: malformed timing {timing.strip()[:60]!r}: {err_a or err_b}")
        if end < begin:
            raise SubtitleError(f"{where}: ends ({end:.3f} s) before it starts ({begin:.3f} s)")
        segments = _segments(lines[timing_at + 1:])
        if segments:
            cues.append(Cue(number, start_line + timing_at, identifier, begin, end, tuple(segments)))
    if not cues:
        raise SubtitleError(f"{name}: no cues with text found")
    return Subtitles(name=name, format=fmt, cues=cues)


def read_subtitles(path: str | Path) -> Subtitles:
    """Read and parse an .srt or .vtt file (UTF-8, with or without a byte-order mark)."""
    p = Path(path)
    if not p.is_file():
        raise SubtitleError(f"subtitle file {p}: not found")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SubtitleError(f"{p}: not UTF-8 text (byte {exc.start})") from None
    return parse_subtitles(text, str(p))
