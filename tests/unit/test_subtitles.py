"""Subtitle parsing (empathy.data.subtitles): what is stripped (indices, timings, tags), what is kept (speaker
labels, voice tags, sound descriptions), how cues become turns, and that a malformed file is an error naming
the file and the cue."""

from __future__ import annotations

import pytest

from empathy.data.subtitles import SubtitleError, detect_format, parse_subtitles, read_subtitles
from empathy.errors import UserError

SRT = """1
00:00:01,000 --> 00:00:03,500
{\\an8}HOST: Welcome to <i>Calm Corner</i>,
the podcast about everyday anxiety.

2
00:00:03,600 --> 00:00:05,000
Today's guest is a psychologist.

3
00:00:05,100 --> 00:00:07,250 X1:100 X2:200 Y1:10 Y2:20
GUEST: Thanks for having me &amp; hello. <i>[laughs]</i>

4
00:00:07,300 --> 00:00:08,000

5
00:00:08,100 --> 00:00:10,000
HOST: Let's start.
"""

VTT = """WEBVTT
Kind: captions
Language: en

NOTE written by a captioner,
over two lines

STYLE
::cue { color: yellow }

intro-1
00:01.000 --> 00:03.000 align:start line:85%
<v Host>Hello and welcome</v>

00:03.000 --> 00:05.000
<v Host>to the show.

00:05.000 --> 00:07.500
<v.loud Guest>Thanks! <00:00:06.000><c.yellow>Great to be here.</c>

00:01:07.500 --> 00:01:09.000
<v Host>
So, where do we start?
"""


def test_srt_strips_indices_timings_and_tags_and_keeps_labels():
    subs = parse_subtitles(SRT, "ep.srt")
    assert subs.format == "srt"
    assert [c.identifier for c in subs.cues] == ["1", "2", "3", "5"]     # cue 4 has no text: skipped
    turns = subs.turns()
    assert [t.speaker for t in turns] == ["HOST", "GUEST", "HOST"]
    assert turns[0].text == "Welcome to Calm Corner, the podcast about everyday anxiety. Today's guest is a psychologist."
    assert turns[1].text == "Thanks for having me & hello. [laughs]"
    assert "-->" not in subs.text() and "<i>" not in subs.text() and "an8" not in subs.text()
    assert subs.cues[0].start == 1.0 and subs.cues[-1].end == 10.0 and subs.duration == 9.0
    assert subs.labelled


def test_vtt_voice_tags_name_speakers_and_blocks_are_skipped():
    subs = parse_subtitles(VTT, "ep.vtt")
    assert subs.format == "vtt"
    assert subs.cues[0].identifier == "intro-1"
    turns = subs.turns()
    # the voice tag repeated on every cue of a turn does not split it; a voice tag alone on a line names the next
    assert [(t.speaker, t.text) for t in turns] == [
        ("Host", "Hello and welcome to the show."),
        ("Guest", "Thanks! Great to be here."),
        ("Host", "So, where do we start?"),
    ]
    assert subs.cues[-1].start == 67.5               # mm:ss and hh:mm:ss both read
    assert "captioner" not in subs.text() and "yellow" not in subs.text()


def test_dashes_and_chevrons_mark_unnamed_speaker_changes():
    srt = ("1\n00:00:01,000 --> 00:00:03,000\n- How are you feeling today?\n- Tired, honestly.\n\n"
           "2\n00:00:03,100 --> 00:00:05,000\nI didn't sleep much.\n\n"
           "3\n00:00:05,100 --> 00:00:07,000\n>> What kept you awake?\n")
    subs = parse_subtitles(srt, "s.srt")
    assert [(t.speaker, t.text) for t in subs.turns()] == [
        (None, "How are you feeling today?"), (None, "Tired, honestly. I didn't sleep much."),
        (None, "What kept you awake?")]
    assert not subs.labelled


def test_unmarked_cues_are_one_running_text():
    srt = ("1\n00:00:01,000 --> 00:00:03,000\nGood evening, everyone.\n\n"
           "2\n00:00:03,100 --> 00:00:05,000\nThank you all for coming tonight.\n")
    subs = parse_subtitles(srt, "talk.srt")
    assert len(subs.turns()) == 1
    assert subs.text() == "Good evening, everyone. Thank you all for coming tonight."


def test_a_sentence_with_a_colon_is_not_a_label():
    srt = "1\n00:00:01,000 --> 00:00:03,000\nand then she said: no more.\n"
    assert parse_subtitles(srt, "x.srt").turns()[0].speaker is None


def test_bom_and_crlf_are_read():
    srt = "\ufeff1\r\n00:00:01,000 --> 00:00:02,000\r\nSPEAKER 1: Hello.\r\n"
    turns = parse_subtitles(srt, "x.srt").turns()
    assert [(t.speaker, t.text) for t in turns] == [("SPEAKER 1", "Hello.")]


def test_format_detection():
    assert detect_format("anything", "a.SRT") == "srt"
    assert detect_format("WEBVTT\n\n00:01.000 --> 00:02.000\nhi") == "vtt"
    assert detect_format("1\n00:00:01,000 --> 00:00:02,000\nhi") == "srt"
    assert detect_format("Host: hello\n\nGuest: hi") is None


def test_read_subtitles_from_a_file(tmp_path):
    path = tmp_path / "talk.vtt"
    path.write_text(VTT, encoding="utf-8")
    assert read_subtitles(path).turns()[0].speaker == "Host"


BAD = [
    ("arrow.srt", "1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n00:00:03,000 -> 00:00:04,000\nHo\n",
     ["arrow.srt", "cue 2", "line 6", "malformed timing"]),
    ("short.srt", "1\n00:00:01,000 --> 00:00:02\nHi\n", ["short.srt", "cue 1", "line 2", "malformed timing"]),
    ("backwards.srt", "1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n00:00:05,000 --> 00:00:03,000\nHo\n",
     ["backwards.srt", "cue 2", "ends", "before it starts"]),
    ("minutes.vtt", "WEBVTT\n\n00:01.000 --> 00:72.000\nHi\n", ["minutes.vtt", "cue 1", "not a valid"]),
    ("orphan.srt", "1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n\nHo\n", ["orphan.srt", "cue 2", "no timing line"]),
    ("stray.srt", "1\n00:00:01,000 --> 00:00:02,000\nHi\n\nsome stray words\n", ["stray.srt", "cue 2",
                                                                                "expected a timing line"]),
    ("index.srt", "one\n00:00:01,000 --> 00:00:02,000\nHi\n", ["index.srt", "cue 1", "index must be a number"]),
    ("noheader.vtt", "00:01.000 --> 00:02.000\nHi\n", ["noheader.vtt", "WEBVTT"]),
    ("empty.srt", "\n\n", ["empty.srt", "empty"]),
    ("blank.srt", "1\n00:00:01,000 --> 00:00:02,000\n\n", ["blank.srt", "no cues with text"]),
]


@pytest.mark.parametrize("name,text,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_files_name_the_file_and_the_cue(name, text, expected):
    with pytest.raises(SubtitleError) as exc:
        parse_subtitles(text, name)
    for part in expected:
        assert part in str(exc.value)


def test_errors_are_user_errors_so_the_cli_prints_one_line():
    assert issubclass(SubtitleError, UserError)


def test_unreadable_and_missing_files(tmp_path):
    latin = tmp_path / "latin.srt"
    latin.write_bytes("1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9\n".encode("latin-1"))
    with pytest.raises(SubtitleError, match="latin.srt: not UTF-8"):
        read_subtitles(latin)
    with pytest.raises(SubtitleError, match="not found"):
        read_subtitles(tmp_path / "missing.vtt")


def test_plain_text_is_not_subtitles():
    with pytest.raises(SubtitleError, match="notes.txt: not a subtitle file"):
        parse_subtitles("Host: hello there", "notes.txt")
