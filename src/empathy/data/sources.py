"""Source loaders: each turns one kind of input into `Record`s.

A corpus directory holds a manifest (sources.yaml) naming each source file,
its kind, content type and attribution; see data/demo/README.md. Kinds:

- `transcript`: plain text. With `speakers` in the manifest, one turn a
  paragraph, each starting `Label: ` (therapy sessions, interviews,
  podcasts); without, running text (monologues, speeches).
- `qa_jsonl`: one `{"id", "question", "answer", "topic"?}` object a line.
- `edge_cases`: the export of edge-case generation (`EdgeCaseRecord`s); an
  item that needed clinical review is taken only with an approval for its
  exact content. The pipeline adds it without a manifest entry
  (`edge_cases_source`).

    from empathy.data.sources import ingest_corpus
    result = ingest_corpus("data/demo", IngestConfig())
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from pydantic import ValidationError

from empathy.config import IngestConfig
from empathy.data.formats import (
    json_lines, load_annomi, load_chat_jsonl, load_counsel_chat, load_dual_persona, load_esconv, load_knowledge_base,
    read_lines, reject,
)
from empathy.data.schema import Attribution, Record, Rejection, Turn
from empathy.errors import UserError
from empathy.io import read_yaml, require_file

# A speaker label: up to three capitalised words ("Client", "Dr Okafor", "CoHost"),
# so that a sentence with a colon ("And one more thing: ...") continues a turn.
LABEL_RE = re.compile(r"^([A-Z][A-Za-z0-9.'_-]*(?: [A-Z][A-Za-z0-9.'_-]*){0,2}):\s+(.*)$", re.S)
STAGE = "ingest"


@dataclass
class SourceSpec:
    id: str
    path: Path
    kind: str
    content_type: str | None      # None: detected from the text (a transcript named on the command line)
    attribution: Attribution
    speakers: dict[str, str] = field(default_factory=dict)


@dataclass
class IngestResult:
    records: list[Record]
    rejected: list[Rejection]
    items_in: int

    @property
    def counts(self) -> dict[str, int]:
        return {"items_in": self.items_in, "records": len(self.records), "rejected": len(self.rejected)}


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]


SUBTITLE_SUFFIXES = (".srt", ".vtt")


def _labelled_paragraphs(paragraphs: list[str]) -> list[tuple[str | None, str]]:
    """(label, text) per paragraph; an unlabelled paragraph continues the previous turn."""
    out: list[tuple[str | None, str]] = []
    for para in paragraphs:
        match = LABEL_RE.match(para)
        if match:
            out.append((match.group(1), match.group(2).strip()))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + " " + para)
        else:
            out.append((None, para))
    return out


def infer_roles(turns: list[tuple[str | None, str]]) -> dict[str, str]:
    """Asker or responder per speaker of a transcript no manifest describes: the speakers who ask most of the
    questions ask; the others answer. Empty when the text is not a conversation of named speakers."""
    asked: dict[str, list[int]] = {}
    for label, text in turns:
        if label:
            asked.setdefault(label, []).append(int("?" in text))
    if len(asked) < 2 or sum(len(v) for v in asked.values()) < 0.5 * len(turns):
        return {}
    rate = {label: sum(v) / len(v) for label, v in asked.items()}
    top = max(rate.values())
    if top == 0:
        return {}
    roles = {label: "asker" if r >= top / 2 else "responder" for label, r in rate.items()}
    if "responder" not in roles.values():
        roles[min(rate, key=rate.get)] = "responder"
    return roles


def load_transcript(spec: SourceSpec) -> tuple[list[Record], list[Rejection]]:
    """Plain text or subtitles. A manifest names the speakers and the content type; for a file named on the
    command line, speaker roles are inferred and the content type is detected (empathy.data.content_type)."""
    from empathy.data.subtitles import SubtitleError, parse_subtitles

    raw = require_file(spec.path, f"source {spec.id}").read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [reject(spec, "invalid_utf8", f"byte {exc.start}: not valid UTF-8")]
    if spec.path.suffix.lower() in SUBTITLE_SUFFIXES:
        try:
            subs = parse_subtitles(text, spec.path.name)
        except SubtitleError as exc:
            return [], [reject(spec, "malformed_subtitles", str(exc))]
        labelled = [(t.speaker, " ".join(t.text.split())) for t in subs.turns() if t.text.strip()]
        paragraphs = [t for _, t in labelled]
    else:
        paragraphs = _paragraphs(text)
        labelled = _labelled_paragraphs(paragraphs)
    if not paragraphs:
        return [], [reject(spec, "empty_source", "no text")]
    speakers = spec.speakers or infer_roles(labelled)
    if spec.speakers:
        unlabelled = next((n for n, (label, _) in enumerate(labelled, start=1) if label is None), None)
        if unlabelled is not None:
            return [], [reject(spec, "missing_speaker", f"paragraph {unlabelled} has no 'Label: ' prefix")]
        unknown = next(((n, label) for n, (label, _) in enumerate(labelled, start=1) if label not in speakers), None)
        if unknown is not None:
            known = ", ".join(sorted(speakers))
            return [], [reject(spec, "unknown_speaker", f"paragraph {unknown[0]}: label {unknown[1]!r} not in speakers "
                                                         f"({known})")]
    if speakers and all(label in speakers for label, _ in labelled):
        record = Record(id=spec.id, content_type="dialogue", source=spec.attribution,
                        turns=[Turn(speaker=label, role=speakers[label], text=t) for label, t in labelled])
    else:
        record = Record(id=spec.id, content_type="monologue", source=spec.attribution, text="\n\n".join(paragraphs))
    if spec.content_type:
        return [record.model_copy(update={"content_type": spec.content_type})], []
    from empathy.data.content_type import detect_content_type

    detection = detect_content_type(record, name=spec.id)   # already parsed: not read again as a subtitle file
    meta = {"content_type_detected": f"{detection.content_type} ({detection.confidence:.2f})"}
    return [record.model_copy(update={"content_type": detection.content_type, "meta": meta})], []


def load_qa_jsonl(spec: SourceSpec) -> tuple[list[Record], list[Rejection]]:
    records: list[Record] = []
    rejected: list[Rejection] = []
    for lineno, obj, item_id in json_lines(spec, rejected):
        missing = [k for k in ("question", "answer") if not isinstance(obj.get(k), str) or not obj[k].strip()]
        if missing:
            rejected.append(reject(spec, "missing_field", f"line {lineno}: missing {', '.join(missing)}", item_id))
            continue
        wrong = [k for k in ("id", "topic") if obj.get(k) is not None and not isinstance(obj[k], (str, int))]
        wrong += ["topic"] if isinstance(obj.get("topic"), int) else []
        if wrong:
            rejected.append(reject(spec, "invalid_field", f"line {lineno}: {', '.join(wrong)} must be a string", item_id))
            continue
        item_id = f"{spec.id}:{obj.get('id') or f'line{lineno}'}"
        attribution = spec.attribution.model_copy(update={"source_id": str(obj.get("id") or f"line{lineno}")})
        records.append(
            Record(
                id=item_id,
                content_type=spec.content_type,
                source=attribution,
                topic=obj.get("topic"),
                turns=[
                    Turn(speaker="asker", role="asker", text=" ".join(obj["question"].split())),
                    Turn(speaker="responder", role="responder", text=" ".join(obj["answer"].split())),
                ],
            )
        )
    return records, rejected


def load_edge_cases(spec: SourceSpec) -> tuple[list[Record], list[Rejection]]:
    from empathy.safety.edge_cases import EdgeCaseRecord
    from empathy.safety.review import content_sha256

    records: list[Record] = []
    rejected: list[Rejection] = []
    for lineno, line, item_id in read_lines(spec):
        if line is None:
            rejected.append(reject(spec, "invalid_utf8", f"line {lineno}: not valid UTF-8", item_id))
            continue
        try:
            item = EdgeCaseRecord.model_validate_json(line)
        except ValidationError as exc:
            err = exc.errors()[0]
            rejected.append(reject(spec, "malformed_record", f"line {lineno}: {'.'.join(map(str, err['loc']))}: {err['msg']}",
                                    item_id))
            continue
        item_id = f"{spec.id}:{item.id}"
        # Defence in depth: the export already holds back unreviewed items; a file edited or assembled by hand must not
        # smuggle one in, nor change the text a clinician approved.
        if item.review.required and item.review.status != "approved":
            rejected.append(reject(spec, "review_not_approved", f"line {lineno}: {item.id} needs clinical review "
                                                                 f"(status {item.review.status})", item_id))
            continue
        if content_sha256(item.model_dump(mode="json")) != item.content_sha256:
            rejected.append(reject(spec, "content_changed", f"line {lineno}: {item.id} differs from what was generated "
                                                             "and reviewed", item_id))
            continue
        attribution = spec.attribution.model_copy(update={
            "source_id": item.id, "licence": item.licence, "title": f"{item.category} ({item.difficulty}), {item.provider}",
        })
        records.append(Record(id=item_id, content_type="dialogue", source=attribution, topic=item.category,
                              turns=item.turns))
    return records, rejected


def edge_cases_source(path: str | Path) -> SourceSpec:
    """The edge-case export as a source, for the pipeline to add beside the corpus manifest's."""
    path = Path(path)
    attribution = Attribution(dataset="empathy-edge-cases", source_id="edge-cases", kind="edge_cases",
                              title="generated edge-case dialogues", licence="see each record", path=str(path))
    return SourceSpec(id="edge-cases", path=path, kind="edge_cases", content_type="dialogue", attribution=attribution)


LOADERS: dict[str, Callable[[SourceSpec], tuple[list[Record], list[Rejection]]]] = {
    "transcript": load_transcript,
    "qa_jsonl": load_qa_jsonl,
    "edge_cases": load_edge_cases,
    "counsel_chat": load_counsel_chat,
    "annomi": load_annomi,
    "esconv": load_esconv,
    "chat_jsonl": load_chat_jsonl,
    "knowledge_base": load_knowledge_base,
    "dual_persona": load_dual_persona,
}

# What a source named on the command line (KIND:PATH) is, when no manifest says: its data set, licence and
# content type. The public sets' terms are those of ../shared/data/README.md.
KIND_DEFAULTS: dict[str, dict[str, str | None]] = {
    "counsel_chat": {"dataset": "counsel-chat", "content_type": "qa",
                     "licence": "MIT (nbertagnolli/counsel-chat repository); scraped counselchat.com text, research use"},
    "annomi": {"dataset": "AnnoMI", "content_type": "dialogue",
               "licence": "research use (uccollab/AnnoMI, no licence file)"},
    "esconv": {"dataset": "ESConv", "content_type": "dialogue", "licence": "CC BY-NC 4.0 (academic use)"},
    "chat_jsonl": {"dataset": None, "content_type": "dialogue", "licence": "unspecified"},
    "knowledge_base": {"dataset": None, "content_type": "monologue", "licence": "unspecified"},
    "dual_persona": {"dataset": None, "content_type": "dialogue", "licence": "unspecified"},
    "edge_cases": {"dataset": "empathy-edge-cases", "content_type": "dialogue", "licence": "see each record"},
    "qa_jsonl": {"dataset": None, "content_type": "qa", "licence": "unspecified"},
    "transcript": {"dataset": None, "content_type": None, "licence": "unspecified"},
}


def source_from_arg(arg: str) -> SourceSpec:
    """`KIND:PATH` (the CLI's --source) as a SourceSpec with the kind's default attribution."""
    kind, sep, path_text = arg.partition(":")
    if not sep or not path_text:
        raise UserError(f"--source {arg!r}: expected KIND:PATH, e.g. annomi:../shared/data/annomi_full.csv")
    if kind not in LOADERS:
        raise UserError(f"--source {arg!r}: unknown kind {kind!r} (known: {', '.join(sorted(LOADERS))})")
    path = Path(path_text)
    require_file(path, f"--source {kind}")
    defaults = KIND_DEFAULTS[kind]
    source_id = path.stem
    attribution = Attribution(dataset=defaults["dataset"] or path.stem, source_id=source_id, kind=kind,
                              licence=defaults["licence"], path=str(path))
    return SourceSpec(id=source_id, path=path, kind=kind, content_type=defaults["content_type"],
                      attribution=attribution)


def read_manifest(corpus_dir: str | Path, manifest: str) -> list[SourceSpec]:
    corpus = Path(corpus_dir)
    if not corpus.is_dir():
        raise UserError(f"corpus directory {corpus}: not found")
    path = corpus / manifest
    data = read_yaml(path, "corpus manifest")
    dataset = data.get("dataset")
    licence = data.get("licence")
    entries = data.get("sources")
    if not dataset or not licence:
        raise UserError(f"corpus manifest {path}: 'dataset' and 'licence' are required")
    if not isinstance(entries, list) or not entries:
        raise UserError(f"corpus manifest {path}: 'sources' must be a non-empty list")
    specs: list[SourceSpec] = []
    seen: set[str] = set()
    for n, entry in enumerate(entries, start=1):
        where = f"corpus manifest {path}, source #{n}"
        if not isinstance(entry, dict):
            raise UserError(f"{where}: expected a mapping")
        missing = [k for k in ("id", "path", "kind", "content_type") if not entry.get(k)]
        if missing:
            raise UserError(f"{where}: missing {', '.join(missing)}")
        if entry["id"] in seen:
            raise UserError(f"{where}: duplicate id {entry['id']!r}")
        seen.add(entry["id"])
        if entry["kind"] not in LOADERS:
            raise UserError(f"{where}: unknown kind {entry['kind']!r} (known: {', '.join(sorted(LOADERS))})")
        try:
            attribution = Attribution(
                dataset=str(dataset),
                source_id=str(entry["id"]),
                kind=entry["kind"],
                title=entry.get("title"),
                url=entry.get("url"),
                timestamp=None if entry.get("timestamp") is None else str(entry["timestamp"]),
                licence=str(entry.get("licence") or licence),
                path=str(entry["path"]),
            )
            raw_speakers = entry.get("speakers") or {}
            if not isinstance(raw_speakers, dict):
                raise UserError(f"{where}: speakers must be a mapping of label to role (asker or responder)")
            speakers = {str(k): str(v) for k, v in raw_speakers.items()}
            bad_roles = sorted(set(speakers.values()) - {"asker", "responder"})
            if bad_roles:
                raise UserError(f"{where}: speaker roles must be asker or responder, got {', '.join(bad_roles)}")
            spec = SourceSpec(
                id=str(entry["id"]),
                path=corpus / str(entry["path"]),
                kind=entry["kind"],
                content_type=entry["content_type"],
                attribution=attribution,
                speakers=speakers,
            )
            Record(id=spec.id, content_type=spec.content_type, source=attribution)  # checks content_type
        except ValidationError as exc:
            raise UserError(f"{where}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
        specs.append(spec)
    return specs


def ingest_specs(specs: list[SourceSpec]) -> IngestResult:
    """Load each source. Unloadable items are rejected, not dropped; two sources may not share an id."""
    seen: dict[str, Path] = {}
    for spec in specs:
        if spec.id in seen:
            raise UserError(f"two sources share the id {spec.id!r} ({seen[spec.id]} and {spec.path}): rename one file")
        seen[spec.id] = spec.path
    records: list[Record] = []
    rejected: list[Rejection] = []
    for spec in specs:
        got, bad = LOADERS[spec.kind](spec)
        records.extend(got)
        rejected.extend(bad)
    return IngestResult(records=records, rejected=rejected, items_in=sum(r.items for r in records) + len(rejected))


def ingest_corpus(corpus_dir: str | Path, config: IngestConfig, extra: list[SourceSpec] = ()) -> IngestResult:
    """Load every source the manifest names, then the extra ones."""
    return ingest_specs([*read_manifest(corpus_dir, config.manifest), *extra])
