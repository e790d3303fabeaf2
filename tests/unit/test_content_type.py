"""Content-type detection (empathy.data.content_type): parsing, the signals, one small example of each type
(written for this test, in no split of the labelled set), the input forms, the CLI, and the labelled set's
shape (balanced, every hard case present, real text only by reference, reproducible by its build script)."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter

import pytest

from empathy.cli import main
from empathy.data.content_type import (
    CONTENT_TYPES,
    FEATURES,
    MODEL_FILE,
    ContentTypeModel,
    detect_content_type,
    label_family,
    parse_text,
    signals,
    to_doc,
)
from empathy.data.schema import Attribution, Record, Turn
from empathy.errors import UserError
from tests.conftest import REPO

DATA = REPO / "data" / "content_type" / "labelled.jsonl"

EXAMPLES = {
    "dialogue": "Therapist: How have you been sleeping since we last met?\n"
                "Client: Badly. I keep waking at four and going over everything.\n"
                "Therapist: That sounds exhausting. What goes through your mind at four?\n"
                "Client: Work, mostly. Whether I'll lose my job.\n"
                "Therapist: So the worry about work follows you into the night.",
    "interview": "Interviewer: Your new book is about loneliness in older men. Why that subject?\n"
                 "Author: My father. After my mother died he stopped going out, and I realised how few friends he had.\n"
                 "Interviewer: What did you find when you talked to other men?\n"
                 "Author: The same story again and again. Work had been their social life, and retirement took it.",
    "podcast": "Host: Welcome back to the show, everyone. This is episode ten of Mind Matters, and today's guest is a "
               "sleep researcher.\nGuest: Thanks for having me on.\n"
               "Host: Our listeners have sent in loads of questions about insomnia. Let's start with the big one.\n"
               "Guest: Go for it.",
    "monologue": "I never thought I would be the kind of person who talks about therapy. I grew up in a house where "
                 "you kept things to yourself.\n\nBut last winter I stopped sleeping, and then I stopped going out. My "
                 "sister noticed before I did. She drove me to the doctor and waited in the car.\n\nI remember sitting "
                 "in that waiting room thinking I was wasting everyone's time. I wasn't.",
    "speech": "Good evening, ladies and gentlemen, and thank you all for coming to our tenth annual fundraising "
              "dinner.\n\nTonight we celebrate the volunteers who answered more than four thousand calls this year. "
              "Each of you in this room has helped make that possible.\n\nSo please raise your glasses to our "
              "volunteers. Thank you.",
    "qa": "Q: I get really anxious before every work meeting, even small ones. Is this normal, and what can I do?\n"
          "A: Yes, it is very common to feel anxious before meetings. Try preparing one or two points you want to "
          "make, arrive a few minutes early, and slow your breathing before you start. If the anxiety is stopping "
          "you from doing your job, speak to your GP, who can refer you for talking therapy.",
}


@pytest.mark.parametrize("label,family", [
    ("Host", "host"), ("HOST 2", "host"), ("CoHost", "host"), ("Host A", "host"), ("Guest", "guest"),
    ("Interviewer", "interviewer"), ("Participant", "participant"), ("Therapist", "helper"),
    ("Counselor", "helper"), ("Dr Okafor", "helper"), ("Client", "client"), ("Seeker", "client"), ("Q", "qa"),
    ("A", "qa"), ("asker", "qa"), ("Asked by a reader", "qa"), ("Speaker 1", "generic"), ("?1", "generic"),
    ("Maya", "name"), ("Ruth Adeyemi", "name"),
])
def test_label_families(label, family):
    assert label_family(label) == family


def test_labels_are_found_in_either_transcript_layout():
    one_a_line = parse_text("Q: Why?\nA: Because.\n\nQ: And then?\nA: Then this.")
    assert [(t.speaker, t.text) for t in one_a_line.turns] == [("Q", "Why?"), ("A", "Because."),
                                                               ("Q", "And then?"), ("A", "Then this.")]
    one_a_paragraph = parse_text("[00:00:05] Host: Hello and\nwelcome.\n\n[00:00:09] Guest: Hi!\n\nHost: So?")
    assert [(t.speaker, t.text) for t in one_a_paragraph.turns] == [("Host", "Hello and welcome."), ("Guest", "Hi!"),
                                                                    ("Host", "So?")]
    assert one_a_paragraph.form == "transcript"


@pytest.mark.parametrize("text", [
    "I went home early.\n\nNote: this part matters.\n\nAnd then I slept for twelve hours.",
    "Step 1: breathe.\nStep 2: count to five.\nStep 3: breathe out.",
    "And one more thing: be kind to yourself. Then rest.",
])
def test_running_text_with_colons_is_not_a_transcript(text):
    doc = parse_text(text)
    assert not doc.has_turns and doc.form == "text"


def test_question_density_per_speaker_finds_the_asker():
    sig = signals(parse_text(EXAMPLES["interview"]))
    assert sig.asker == "Interviewer"
    assert sig.q_by_speaker == {"Interviewer": (2, 2), "Author": (0, 2)}
    assert sig.values["q_asker"] == 1.0 and sig.values["q_other"] == 0.0
    assert sig.values["answer_ratio"] > 0          # the author answers at greater length than the questions


def test_qa_shape_show_and_speech_cues_and_punctuation():
    qa = signals(parse_text(EXAMPLES["qa"]))
    assert qa.values["qa_shape"] == 1.0 and qa.values["two_turns"] == 1.0
    assert "is this normal" in qa.hits["qa_question"] and "very common" in qa.hits["qa_answer"]
    pod = signals(parse_text(EXAMPLES["podcast"]))
    assert {"episode", "listeners", "today's guest"} <= set(pod.hits["show"])
    assert pod.values["lab_host"] == 1.0 and pod.values["lab_guest"] == 1.0
    speech = signals(parse_text(EXAMPLES["speech"]))
    assert "ladies and gentlemen" in speech.hits["speech"] and "speech_close" in speech.hits
    assert not speech.doc.has_turns and speech.values["no_punct"] == 0.0
    unpunctuated = signals(parse_text("thank you all for coming tonight it means a lot to see you here we have "
                                      "worked so hard this year and i am proud of every one of you"))
    assert unpunctuated.values["no_punct"] == 1.0 and unpunctuated.values["lower_i"] == 1.0


def test_therapy_cues_are_read_from_the_asker():
    sig = signals(parse_text(EXAMPLES["dialogue"]))
    assert sig.asker == "Therapist"
    assert sig.values["cue_therapy_asker"] > 0 and sig.values["lab_helper_no_interviewer"] == 1.0


@pytest.mark.parametrize("ctype", CONTENT_TYPES)
def test_each_type_on_a_small_example(ctype):
    d = detect_content_type(EXAMPLES[ctype])
    assert d.content_type == ctype, d.evidence
    assert d.confidence >= 0.6
    assert abs(sum(d.probabilities.values()) - 1) < 0.01
    assert len(d.evidence) >= 2
    assert ("speakers" in d.evidence[0]) == (ctype not in ("monologue", "speech"))


def test_evidence_names_what_decided():
    d = detect_content_type(EXAMPLES["podcast"])
    assert any("show cues" in e and "episode" in e for e in d.evidence)
    d = detect_content_type(EXAMPLES["speech"])
    assert any("ladies and gentlemen" in e for e in d.evidence)


def _record(ctype: str, turns: list[tuple[str, str]]) -> Record:
    src = Attribution(dataset="t", source_id="r", kind="transcript", licence="CC-BY-4.0")
    return Record(id="r", content_type=ctype, source=src,
                  turns=[Turn(speaker=s, role="asker" if i % 2 == 0 else "responder", text=t)
                         for i, (s, t) in enumerate(turns)])


def test_input_forms_agree_and_the_records_own_type_is_not_read():
    pairs = [(line.split(": ", 1)[0], line.split(": ", 1)[1]) for line in EXAMPLES["dialogue"].split("\n")]
    as_text = detect_content_type(EXAMPLES["dialogue"])
    as_record = detect_content_type(_record("speech", pairs))     # mislabelled on purpose
    as_dict = detect_content_type({"turns": [{"speaker": s, "text": t} for s, t in pairs]})
    as_list = detect_content_type([{"speaker": s, "text": t} for s, t in pairs])
    assert as_text.content_type == as_record.content_type == as_dict.content_type == as_list.content_type == "dialogue"
    assert as_record.probabilities == as_dict.probabilities == as_list.probabilities
    assert detect_content_type({"text": EXAMPLES["speech"]}).content_type == "speech"


def test_subtitles_are_detected_with_their_speakers():
    vtt = ("WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Host>Welcome back to the podcast, listeners!\n\n"
           "00:00:04.100 --> 00:00:06.000\n<v Host>This episode is about burnout, with a guest who wrote a book on it.\n\n"
           "00:00:06.100 --> 00:00:08.000\n<v Guest>Thanks for having me on the show.\n\n"
           "00:00:08.100 --> 00:00:10.000\n<v Host>So what is burnout, really?\n")
    d = detect_content_type(vtt)
    assert d.content_type == "podcast"
    assert d.evidence[0].startswith("subtitles (WebVTT), 4 cues") and "Host, Guest" in d.evidence[0]


def test_detection_is_deterministic():
    a = detect_content_type(EXAMPLES["monologue"])
    b = detect_content_type(EXAMPLES["monologue"])
    assert a == b


@pytest.mark.parametrize("bad,message", [
    ("   ", "no text"), ({"id": "x"}, "neither 'turns' nor 'text'"), ({"turns": [{"speaker": "A"}]}, "turn 1 has no text"),
    (42, "expected a record"),
])
def test_unusable_input_is_a_user_error(bad, message):
    with pytest.raises(UserError, match=message):
        detect_content_type(bad)


def test_a_single_turn_is_running_text():
    assert not to_doc([{"speaker": "Narrator", "text": "I remember the first time I felt calm."}]).has_turns


def test_model_file_problems_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        ContentTypeModel.load(tmp_path / "missing.json")
    stale = json.loads(MODEL_FILE.read_text())
    stale["features"] = list(FEATURES[:-1])
    path = tmp_path / "stale.json"
    path.write_text(json.dumps(stale))
    with pytest.raises(UserError, match="retrain"):
        ContentTypeModel.load(path)


# --- the CLI -----------------------------------------------------------------------------------------------------

def test_cli_detect_type_on_a_transcript_subtitles_and_jsonl(tmp_path, capsys):
    txt = tmp_path / "session.txt"
    txt.write_text(EXAMPLES["dialogue"].replace("\n", "\n\n"), encoding="utf-8")
    assert main(["data", "detect-type", str(txt)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["content_type"] == "dialogue" and out["file"] == str(txt) and out["evidence"]

    srt = tmp_path / "talk.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:04,000\nGood evening, ladies and gentlemen,\n\n"
                   "2\n00:00:04,100 --> 00:00:08,000\nand thank you all for coming to this conference tonight.\n\n"
                   "3\n00:00:08,100 --> 00:00:12,000\nEach of you in this hall has made it possible. Thank you.\n",
                   encoding="utf-8")
    assert main(["data", "detect-type", str(srt)]) == 0
    assert json.loads(capsys.readouterr().out)["content_type"] == "speech"

    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text(json.dumps({"id": "a", "text": EXAMPLES["qa"]}) + "\n\n"
                     + json.dumps({"id": "b", "text": EXAMPLES["monologue"]}) + "\n", encoding="utf-8")
    assert main(["data", "detect-type", str(jsonl)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["content_type"]) for r in rows] == [("a", "qa"), ("b", "monologue")]


def test_cli_bad_subtitles_and_bad_jsonl_exit_2_naming_file_and_place(tmp_path, capsys):
    bad = tmp_path / "broken.srt"
    bad.write_text("1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n00:00:03,000 -> 00:00:04,000\nHo\n", encoding="utf-8")
    assert main(["data", "detect-type", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.srt, cue 2" in err and "malformed timing" in err and len(err.strip().splitlines()) == 1
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text(json.dumps({"id": "a", "text": "hello there"}) + "\n{oops\n", encoding="utf-8")
    assert main(["data", "detect-type", str(jsonl)]) == 2
    assert "bad.jsonl, line 2: malformed JSON" in capsys.readouterr().err
    assert main(["data", "detect-type", str(tmp_path / "nothing.txt")]) == 2
    assert "nothing.txt" in capsys.readouterr().err


# --- the labelled set ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def labelled() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_labelled_set_is_big_enough_balanced_and_split(labelled):
    assert len(labelled) >= 240
    assert len({r["id"] for r in labelled}) == len(labelled)
    per_type = Counter(r["content_type"] for r in labelled)
    assert set(per_type) == set(CONTENT_TYPES)
    assert max(per_type.values()) <= 1.25 * min(per_type.values()), per_type
    for ctype in CONTENT_TYPES:
        splits = Counter(r["split"] for r in labelled if r["content_type"] == ctype)
        assert splits["test"] >= 8 and splits["val"] >= 8 and splits["train"] >= 20, (ctype, splits)


def test_labelled_set_has_the_hard_cases(labelled):
    cases = {(r["content_type"], r["case"]) for r in labelled}
    for needed in [("podcast", "two_hosts"), ("interview", "conversational"), ("speech", "unpunctuated"),
                   ("monologue", "quoted_dialogue"), ("podcast", "solo"), ("interview", "qa_labels")]:
        assert needed in cases
    formats = {(r["content_type"], r["format"]) for r in labelled}
    for ctype in CONTENT_TYPES:
        assert (ctype, "srt") in formats and (ctype, "vtt") in formats, ctype
    two_hosts = [r for r in labelled if r["case"] == "two_hosts" and "turns" in r]
    assert two_hosts and all(not {"Guest", "guest"} & {t["speaker"] for t in r["turns"]} for r in two_hosts)


def test_real_text_is_only_referenced(labelled):
    real = [r for r in labelled if r["source"] in ("annomi", "esconv", "counsel-chat")]
    assert {r["source"] for r in real} == {"annomi", "esconv", "counsel-chat"}
    assert all("ref" in r and "text" not in r and "turns" not in r for r in real)
    assert {r["content_type"] for r in real if r["source"] == "counsel-chat"} == {"qa"}
    assert {r["content_type"] for r in real if r["source"] != "counsel-chat"} == {"dialogue"}
    assert all(r["licence"] == "CC-BY-4.0" for r in labelled if r["source"] == "handwritten")


def test_labelled_set_is_what_the_build_script_writes(labelled):
    spec = importlib.util.spec_from_file_location("build_labelled", DATA.parent / "build_labelled.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    items = build.handwritten_items() + build.reference_items()
    build.assign_splits(items)
    items.sort(key=lambda i: (CONTENT_TYPES.index(i["content_type"]), i["id"]))
    assert items == labelled, "data/content_type/labelled.jsonl differs from build_labelled.py's output: rebuild it"
