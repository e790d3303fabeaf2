"""The `empathy` command: one sub-command per stage, plus the pipeline and the server.

    empathy ingest   --corpus data/demo [--edge-cases runs/x/edge_cases/edge_cases.jsonl] --out-dir runs/x/ingest
    empathy pairs    --records runs/x/ingest/records.jsonl --out-dir runs/x/pairs
    empathy validate --pairs runs/x/pairs/pairs.jsonl --out-dir runs/x/validate
    empathy split    --records ... --pairs ... --accepted ... --rejected R [R ...] --out-dir runs/x/data
    empathy train    --data runs/x/data --out runs/x/model [--config configs/train/NAME.yaml] [--resume]
    empathy train plan --config configs/train/NAME.yaml --conversations N [--gpus G] [--data train.jsonl] [--json]
    empathy evaluate --model runs/x/model --data runs/x/data --run-id RUN --out runs/x/evaluation.json
    empathy register --model runs/x/model --data runs/x/data --run-id RUN
    empathy deploy   --model-uri models:/empathy-chat/1 --inputs data/demo/inference_inputs.jsonl --out-dir runs/x/deploy
    empathy monitor  --data runs/x/data --inference-log runs/x/deploy/inference_log.jsonl --out-dir runs/x/monitor
    empathy serve    --model models:/empathy-chat@candidate --port 8080
    empathy guard    --model_name empathy-chat --predictor_host HOST[:PORT] --http_port 8080   (KServe transformer)
    empathy safety categories [--difficulty very_high|high|moderate] [--name NAME]
    empathy safety generate --out-dir runs/x/edge_cases [--provider offline|openai|anthropic|ollama|empathy] [--resume]
    empathy safety classify FILE.jsonl [--out OUT.jsonl]
    empathy safety train-detector [--data data/safety/risk_labelled.jsonl] [--out src/empathy/safety/risk_model.json]
                                  [--recall-target 0.96]
    empathy safety evaluate-detector [--data data/safety/risk_labelled.jsonl] [--out-dir runs/safety/detector]
    empathy data detect-type FILE [--model M]        (a transcript .txt/.srt/.vtt, or a JSONL of records)
    empathy data train-content-type [--data data/content_type/labelled.jsonl] [--out MODEL.json]
    empathy data evaluate-content-type [--data ...] [--model M] [--out-dir runs/data/content_type]
    empathy data deidentify FILE.jsonl [--out OUT.jsonl]
    empathy data validate-pairs FILE.jsonl [--out OUT.jsonl] [--model M]   ({id, question, answer} lines)
    empathy data train-validator [--counsel-chat CSV] [--generic GENERIC.jsonl] [--out MODEL.json]
    empathy data evaluate-validator [--counsel-chat CSV] [--model M] [--out-dir runs/data/validator]
    empathy data evaluate-deid [--data data/deid/labelled.jsonl] [--out-dir runs/data/deid] [--no-real-data]
    empathy review list [--status pending] | show ID | approve ID --reviewer NAME | reject ID --reviewer NAME --note WHY
    empathy review audit [--verify]
    empathy pipeline run --local | compile | submit --host URL
    empathy auth create-key --role client|therapist|supervisor|admin|auditor | revoke-key ID | list-keys
    empathy audit verify [--url URL]
    empathy registry promote --model NAME --version V --to staging|production [--tracking-uri URI]
    empathy registry card --model NAME --version V --out FILE.md [--tracking-uri URI]

Every stage reads its section of the pipeline config (`--config`, default
configs/pipeline/demo.yaml where it exists, else built-in defaults) and calls
the same function in `empathy.stages` that its KFP component calls. A user's
mistake (missing, empty or malformed file, bad config) prints one line and
exits 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from empathy.errors import StageFailed, UserError

DEFAULT_CONFIG = Path("configs/pipeline/demo.yaml")


def _config(args: argparse.Namespace):
    from empathy.config import load_pipeline_config

    if args.config:
        return load_pipeline_config(args.config)
    return load_pipeline_config(DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


def _out(path: str) -> Path:
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p


def _data_dir(path: str, *names: str) -> list[str]:
    d = Path(path)
    if not d.is_dir():
        raise UserError(f"data directory {d}: not found (the output of `empathy split`)")
    return [str(d / n) for n in names]


def cmd_ingest(args):
    from empathy import stages

    cfg = _config(args)
    out = _out(args.out_dir)
    _print(stages.ingest(args.corpus or cfg.corpus_dir, cfg.ingest, str(out / "records.jsonl"), str(out / "rejected.jsonl"),
                         args.edge_cases))


def cmd_pairs(args):
    from empathy import stages

    out = _out(args.out_dir)
    _print(stages.pairs(args.records, _config(args).pairs, str(out / "pairs.jsonl"), str(out / "rejected.jsonl")))


def cmd_validate(args):
    from empathy import stages

    out = _out(args.out_dir)
    _print(stages.validate(args.pairs, _config(args).validate_, str(out / "accepted.jsonl"), str(out / "rejected.jsonl")))


def cmd_screen(args):
    from empathy import stages

    out = _out(args.out_dir)
    _print(stages.screen(args.accepted, _config(args).screen, str(out / "passed.jsonl"), str(out / "held.jsonl"),
                         str(out / "rejected.jsonl"), review_url=args.review_url, progress=True))


def cmd_split(args):
    from empathy import stages

    _print(stages.split(args.records, args.pairs, args.accepted, args.screened, args.held, args.rejected,
                        _config(args).split, str(_out(args.out_dir)), edge_cases_report=args.edge_cases_report,
                        progress=True))


def _registry(args, cfg):
    return cfg.registry.model_copy(update={"tracking_uri": args.tracking_uri}) if args.tracking_uri else cfg.registry


def cmd_train(args):
    from empathy import stages
    from empathy.config import load_train_config

    # not required by argparse, which would then demand them of `empathy train plan` too
    missing = [flag for flag, value in (("--data", args.data), ("--out", args.out)) if not value]
    if missing:
        raise UserError(f"the following arguments are required: {', '.join(missing)} "
                        "(`empathy train plan --config PRESET --conversations N` sizes a run instead)")
    cfg = _config(args)
    train_cfg = load_train_config(args.train_config) if args.train_config else cfg.train
    train_path, val_path = _data_dir(args.data, "train.jsonl", "val.jsonl")
    _print(stages.train(train_path, val_path, train_cfg, _registry(args, cfg), args.out, resume=args.resume))


def cmd_train_plan(args):
    from empathy.config import load_train_config
    from empathy.train.plan import DEFAULT_CHARS_PER_TOKEN, format_plan, plan_run

    plan = plan_run(load_train_config(args.config), args.conversations, args.gpus, args.tokens_per_conversation,
                    args.data, DEFAULT_CHARS_PER_TOKEN if args.chars_per_token is None else args.chars_per_token,
                    args.mfu, source=args.config)
    if args.json:
        _print(plan.to_dict())
    else:
        print(format_plan(plan))


def _add_train_plan(train: argparse.ArgumentParser) -> None:
    help_ = ("size a run before submitting it: tokens, FLOPs, memory per GPU and hours, and whether it fits the GPUs "
             "and max_wall_hours")
    p = train.add_subparsers(dest="train_command", metavar="plan").add_parser("plan", help=help_, description=help_)
    p.add_argument("--config", required=True, help="a training preset (configs/train/*.yaml)")
    p.add_argument("--conversations", type=int, required=True, help="chat examples in the training split")
    p.add_argument("--gpus", type=int, help="GPUs in all (default: the preset's distributed.nodes x gpus_per_node)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--tokens-per-conversation", type=float, help="mean tokens per conversation")
    length.add_argument("--data", help="chat JSONL to measure conversation length on (train.jsonl of `empathy split`; "
                                       "default: counsel-chat's mean)")
    p.add_argument("--chars-per-token", type=float, help="characters per token when measuring (default 4)")
    p.add_argument("--mfu", type=float, help="model FLOPs utilisation to assume (default 0.30)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=cmd_train_plan)


def cmd_evaluate(args):
    from empathy import stages

    cfg = _config(args)
    (test_path,) = _data_dir(args.data, "test.jsonl")
    evaluation = stages.evaluate(args.model, test_path, cfg.evaluate, _registry(args, cfg), args.run_id, args.out,
                                 cfg.gates)
    _print(evaluation["metrics"])
    for stage, report in evaluation.get("gates", {}).items():
        print(report["summary"], file=sys.stderr)


def cmd_register(args):
    from empathy import stages

    cfg = _config(args)
    (report,) = _data_dir(args.data, "report.json")
    _print(stages.register(args.model, _registry(args, cfg), args.run_id, report, config=cfg.model_dump(mode="json"),
                           gates=cfg.gates))


def cmd_deploy(args):
    from empathy import stages

    cfg = _config(args)
    deploy_cfg = cfg.deploy.model_copy(update={"target": args.target}) if args.target else cfg.deploy
    inputs = args.inputs or os.path.join(cfg.corpus_dir, cfg.deploy.inference_inputs)
    _print(stages.deploy(args.model_uri, _registry(args, cfg).tracking_uri, deploy_cfg, inputs, str(_out(args.out_dir))))


def cmd_monitor(args):
    from empathy import stages

    (train_path,) = _data_dir(args.data, "train.jsonl")
    _print(stages.monitor(train_path, args.inference_log, _config(args).monitor, str(_out(args.out_dir))))


def _serve_settings(args):
    from empathy.serve.app import ServeSettings

    settings = ServeSettings(
        host=args.host, auth=not args.no_auth, auth_url=args.auth_url, audit_url=args.audit_url,
        conversation_url=args.conversation_url, inference_log_url=args.inference_log_url,
        rate_limit_url=args.rate_limit_url, rate_limit=args.rate_limit, rate_window_s=args.rate_window_s,
        cache_url=args.cache_url, max_body_bytes=args.max_body_bytes, max_new_tokens=args.max_new_tokens)
    settings.check()
    return settings


def cmd_serve(args):
    from empathy.serve.predictor import serve

    if args.tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri
    serve(args.model, host=args.host, port=args.port, name=args.name, tracking_uri=args.tracking_uri,
          settings=_serve_settings(args))


def cmd_guard(args):
    from empathy.serve.transformer import serve_guard

    if not args.predictor_host:
        raise UserError("empathy guard: --predictor_host is required (KServe passes it to a transformer)")
    protocol = args.predictor_protocol or args.protocol or "v2"
    if protocol == "grpc-v2":
        protocol = "v2"  # the guard speaks HTTP to the predictor; its REST port answers the v2 readiness check
    serve_guard(args.model_name, args.predictor_host, host=args.host, port=args.port or args.http_port,
                use_ssl=args.predictor_use_ssl, timeout_s=args.predictor_request_timeout_seconds,
                retries=args.predictor_request_retries, health_protocol=protocol, model_version=args.model_version,
                settings=_serve_settings(args))


def cmd_safety_categories(args):
    from empathy.safety.categories import CATEGORIES, get_category

    chosen = [get_category(args.name)] if args.name else list(CATEGORIES.values())
    if args.difficulty:
        chosen = [c for c in chosen if c.difficulty == args.difficulty]
    _print([c.to_dict() for c in chosen])


def cmd_safety_generate(args):
    from empathy import stages

    cfg = _config(args)
    edge = cfg.edge_cases.model_copy(update={"enabled": True})
    if args.categories:
        edge.categories = args.categories.split(",")
    if args.per_category:
        edge.per_category = args.per_category
    if args.provider:
        edge.provider = edge.provider.model_copy(update={"name": args.provider, **({"model": args.model} if args.model else {})})
    out = _out(args.out_dir)
    if not args.resume and (out / "state").exists():
        raise UserError(f"{out}/state exists from an earlier run: pass --resume to continue it, or use a new --out-dir")
    _print(stages.edge_cases(edge, str(out), cfg.registry if args.mlflow else None, review_url=args.review_url))


def cmd_safety_classify(args):
    from empathy.io import require_file
    from empathy.safety.risk import classify_jsonl, summarise

    require_file(args.file, "input file")
    results = []
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115 - closed below
    try:
        for row in classify_jsonl(args.file):
            results.append(row)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if args.out:
            out.close()
    summary = summarise(results)
    levels = ", ".join(f"{k} {v}" for k, v in summary["levels"].items())
    print(f"classified {summary['lines']} lines, {summary['errors']} errors; levels: {levels}", file=sys.stderr)


def cmd_data_process(args):
    from empathy.data.process import process_sources

    report = process_sources(args.source, _config(args), args.out, review_url=args.review_url,
                             embedding_cache=args.embedding_cache, progress=True)
    keys = ("items_in", "processed_share", "records", "pairs", "accepted", "held_for_review", "exported",
            "extracted_share", "splits", "rejected", "seconds", "embedding_cache")
    _print({k: report.get(k) for k in keys} | {"report": str(Path(args.out) / "report.html")})


def cmd_safety_train_detector(args):
    from empathy.safety.risk import train_detector

    extra = {"recall_target": args.recall_target} if args.recall_target is not None else {}
    _print(train_detector(args.data, args.out, **extra))


def cmd_safety_evaluate_detector(args):
    from empathy.safety.risk import RiskDetector, evaluate_detector

    report = evaluate_detector(args.data, args.out_dir, RiskDetector.load(args.model) if args.model else None)
    cc = report["counsel_chat"]
    _print({"test": report["test"], "per_category": report["per_category"],
            "per_kind": {k: v["high_rate"] for k, v in report["per_kind"].items()},
            "counsel_chat": cc.get("skipped") or {s: {k: cc[s][k] for k in ("benign_questions", "benign_high_rate")}
                                                  for s in ("test", "val")},
            "paths": report["paths"]})


def cmd_data_detect_type(args):
    from empathy.data.content_type import detect_file

    _print(detect_file(args.file, args.model))


def cmd_data_train_content_type(args):
    from empathy.data.content_type_eval import train_content_type

    _print(train_content_type(args.data, args.out))


def cmd_data_evaluate_content_type(args):
    from empathy.data.content_type_eval import evaluate_content_type

    report = evaluate_content_type(args.data, args.out_dir, args.model)
    skipped = report["data"]["references_skipped"]
    _print({"test": report["test"],
            "per_type": {t: {k: v[k] for k in ("support", "precision", "recall", "f1")}
                         for t, v in report["per_type"].items()},
            "baseline_rules_accuracy": report["baseline_rules"]["accuracy"],
            "references_skipped": f"{len(skipped)}: {skipped[0]['reason']}" if skipped else 0,
            "real_sets": report["real_sets"].get("skipped") or {k: {"n": v["n"], "accuracy": v["accuracy"]}
                                                                for k, v in report["real_sets"].items()},
            "paths": report["paths"]})


def cmd_data_deidentify(args):
    from empathy.data.deid import deidentify_jsonl
    from empathy.io import require_file

    require_file(args.file, "input file")
    lines = errors = 0
    totals: dict[str, int] = {}
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115 - closed below
    try:
        for row in deidentify_jsonl(args.file):
            lines += 1
            if "error" in row:
                errors += 1
            for t, n in row.get("counts", {}).items():
                totals[t] = totals.get(t, 0) + n
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if args.out:
            out.close()
    replaced = ", ".join(f"{t} {n}" for t, n in totals.items()) or "nothing"
    print(f"de-identified {lines} lines, {errors} errors; replaced: {replaced}", file=sys.stderr)


def cmd_data_validate_pairs(args):
    from empathy.data.validate import summarise, validate_jsonl

    cfg = _config(args).validate_
    if args.model:
        cfg = cfg.model_copy(update={"model": args.model})
    results = []
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115 - closed below
    try:
        for row in validate_jsonl(args.file, cfg):
            results.append(row)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if args.out:
            out.close()
    summary = summarise(results)
    rejected = ", ".join(f"{k} {v}" for k, v in summary["rejected"].items()) or "none"
    print(f"validated {summary['lines']} lines, {summary['errors']} errors; accepted {summary['accepted']}; "
          f"rejected: {rejected}", file=sys.stderr)


def _use_embedding_cache(path: str | None) -> None:
    if path:
        from empathy.embeddings import use_cache

        use_cache(path)


def cmd_data_train_validator(args):
    from empathy.data.validate_eval import train_validator

    _use_embedding_cache(args.embedding_cache)
    _print(train_validator(args.counsel_chat, args.generic, args.out))


def cmd_data_evaluate_validator(args):
    from empathy.config import ValidateConfig
    from empathy.data.validate_eval import evaluate_validator

    _use_embedding_cache(args.embedding_cache)
    report = evaluate_validator(args.counsel_chat, args.generic, args.out_dir,
                                config=ValidateConfig(model=args.model) if args.model else None)
    _print({"test": report["test"], "reasons": report["reasons"],
            "plain_cosine": report["baselines"]["plain_cosine_val_calibrated"],
            "plain_cosine_at_validator_kept": report["baselines"]["plain_cosine_at_validator_kept"],
            "trained_on_this_data": report["model"]["trained_on_this_data"], "paths": report["paths"]})


def cmd_data_evaluate_deid(args):
    from empathy.data.deid_eval import evaluate_deid

    report = evaluate_deid(args.data, args.out_dir, real_data=not args.no_real_data)
    real = report["real_data"]
    _print({"splits": {s: {k: v[k] for k in ("rows", "gold_spans", "removed_recall", "typed_recall", "precision")}
                       | {"per_type": {t: {m: x[m] for m in ("gold", "removed_recall", "precision")}
                                       for t, x in v["per_type"].items()}}
                       for s, v in report["splits"].items()},
            "real_data": real if "skipped" in real else {
                src: {m: v[m] for m in ("texts", "texts_changed", "texts_per_second", "counts")} for src, v in real.items()},
            "paths": report["paths"]})


def _review_queue(args):
    from empathy.safety.review import ReviewQueue, queue_url

    return ReviewQueue(queue_url(args.url, _config(args).edge_cases.review.url))


def cmd_review_list(args):
    with _review_queue(args) as queue:
        items = queue.list(status=args.status, category=args.category)
        if args.json:
            _print([i.summary() for i in items])
            return
        print(f"{'id':<34} {'category':<26} {'risk':<9} {'status':<9} reviewer")
        for i in items:
            print(f"{i.id:<34} {i.category:<26} {i.risk_level:<9} {i.status:<9} {i.reviewer or ''}")
        counts = queue.counts()
        print(f"{len(items)} shown; queue: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)


def cmd_review_show(args):
    with _review_queue(args) as queue:
        item = queue.get(args.item_id)
        if args.json:
            _print({**item.to_dict(), "audit": [vars(e) for e in queue.audit(args.item_id)]})
            return
        print(f"{item.id}  [{item.status}]  {item.category} ({item.difficulty}), risk {item.risk_level} "
              f"{', '.join(item.risk_categories)}; flagged: {', '.join(item.flag_reasons)}")
        for turn in item.record.get("turns", []):
            print(f"  {turn['speaker']}: {turn['text']}")
        for e in queue.audit(args.item_id):
            print(f"  audit #{e.seq} {e.at} {e.action} by {e.actor}{': ' + e.note if e.note else ''}")


def _cmd_review_decide(args, decision: str):
    with _review_queue(args) as queue:
        item = queue.decide(args.item_id, decision, args.reviewer, args.note or "")
        _print(item.summary())


def cmd_review_approve(args):
    _cmd_review_decide(args, "approved")


def cmd_review_reject(args):
    _cmd_review_decide(args, "rejected")


def cmd_review_audit(args):
    with _review_queue(args) as queue:
        ok, message = queue.verify_audit()
        if not args.verify:
            for e in queue.audit(args.item_id):
                print(json.dumps(vars(e), sort_keys=True))
        print(message, file=sys.stderr)
        if not ok:
            raise StageFailed(message)


def _edge_case_status(e: dict[str, Any], review_url: str) -> str:
    if not e["enabled"]:
        return "switched off"
    return (f"{e['exported']} of {e['requested']} in training; {e['awaiting_review']} awaiting clinical review\n"
            f"                     (empathy review list --status pending --url {review_url})")


def cmd_auth_create_key(args):
    from empathy.serve.auth import create_key

    print(create_key(args.role, args.url, subject=args.subject))  # the only output: the key, shown once


def cmd_auth_revoke_key(args):
    from empathy.serve.auth import revoke_key

    info = revoke_key(args.key_id, args.url)
    print(f"revoked {info.key_id} ({info.role}, {info.subject}) at {info.revoked_at}")


def cmd_auth_list_keys(args):
    from empathy.serve.auth import list_keys

    for k in list_keys(args.url):
        print(json.dumps(vars(k), sort_keys=True))


def cmd_audit_verify(args):
    from empathy.serve.audit import verify_audit

    ok, message = verify_audit(args.url)
    print(message, file=sys.stderr)
    if not ok:
        raise StageFailed(message)


def _promotion_tracking_uri(args) -> str:
    """--tracking-uri, else $MLFLOW_TRACKING_URI, else the config's registry.tracking_uri."""
    # the card reads small JSON artifacts; MLflow's download progress bars would bury the one line that matters
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or _config(args).registry.tracking_uri


def cmd_registry_promote(args):
    from empathy.registry import promote

    cfg = _config(args)
    result = promote(args.model, args.version, args.to, cfg.gates, _promotion_tracking_uri(args),
                     require_staging=cfg.registry.production_requires_staging)
    _print(result.to_dict())
    if not result.promoted:
        raise StageFailed(result.summary())
    print(result.summary(), file=sys.stderr)


def cmd_registry_card(args):
    from empathy.evaluate.model_card import model_card

    card = model_card(args.model, args.version, _promotion_tracking_uri(args), _config(args).gates)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(card, encoding="utf-8")
    print(out)


def cmd_pipeline_run(args):
    from empathy.pipeline import run_local

    if not args.local:
        raise UserError("only --local runs here; use `empathy pipeline submit --host URL` for a cluster")
    summary = run_local(args.config or (str(DEFAULT_CONFIG) if DEFAULT_CONFIG.is_file() else None), args.output_dir)
    reg, paths = summary["registered_model"], summary["paths"]
    test = summary["metrics"]["test"]
    print(f"""
Pipeline finished. Where to look:
  summary            {paths['summary']}
  MLflow             {summary['tracking_uri']}  (run {reg['run_id']})
  registered model   {reg['name']} version {reg['version']}, alias '{reg['alias']}'  ->  models:/{reg['name']}@{reg['alias']}
  open the MLflow UI {summary['mlflow_ui']}
  test metrics       loss {test['test_loss']:.3f}, perplexity {test['test_perplexity']:.1f}, token accuracy {test['test_token_accuracy']:.3f}
  evaluation report  {paths['evaluation_report']}
  promotion          {summary['promotion']['summary']}
  Evidently report   {paths['drift_report']}  (drift share {summary['metrics']['drift_share']:.2f})
  edge cases         {_edge_case_status(summary['edge_cases'], summary['review_queue_url'])}
  training curve     {paths['training_curve']}
  pipeline log       {paths['pipeline_log']}
  sample reply       Q: {summary['sample']['prompt']}
                     A: {summary['sample']['reply']}""")


def cmd_pipeline_compile(args):
    from empathy.pipeline import compile_pipeline

    print(compile_pipeline(args.config, args.output))


def cmd_pipeline_submit(args):
    from empathy.pipeline import submit

    try:
        arguments = json.loads(args.arguments) if args.arguments else {}
    except json.JSONDecodeError as exc:
        raise UserError(f"--arguments: malformed JSON ({exc.msg})") from None
    if not isinstance(arguments, dict):
        raise UserError("--arguments: expected a JSON object of pipeline parameters")
    print(submit(args.host, args.package, args.experiment, args.run_name, arguments))


def _serve_setting_arguments(p) -> None:
    """The flags `empathy serve` and `empathy guard` share: auth, audit, stores, limits."""
    p.add_argument("--no-auth", action="store_true",
                   help="serve without API keys/JWTs (local demo only: refused unless --host is loopback)")
    p.add_argument("--auth-url", help="API key store URL (default: $EMPATHY_AUTH_URL, else sqlite:///runs/serve/auth.db);"
                   " JWTs are accepted when $EMPATHY_JWT_SECRET is set")
    p.add_argument("--audit-url", help="audit log URL (default: $EMPATHY_AUDIT_URL, else sqlite:///runs/serve/audit.db)")
    p.add_argument("--conversation-url", help="conversation store (default: $EMPATHY_CONVERSATION_URL, else SQLite)")
    p.add_argument("--inference-log-url", help="inference log (default: $EMPATHY_INFERENCE_LOG_URL, else SQLite)")
    p.add_argument("--rate-limit-url", help="rate limiter (default: $EMPATHY_RATE_LIMIT_URL, else memory://)")
    p.add_argument("--rate-limit", type=int, default=60, help="chat requests per principal per window (default 60)")
    p.add_argument("--rate-window-s", type=float, default=60.0)
    p.add_argument("--cache-url", help="response cache (default: $EMPATHY_CACHE_URL, else memory://)")
    p.add_argument("--max-body-bytes", type=int, default=1_000_000)
    p.add_argument("--max-new-tokens", type=int, default=64, help="default reply length when a request names none")


def build_parser() -> argparse.ArgumentParser:
    from typing import get_args

    from empathy.config import ProviderConfig

    parser = argparse.ArgumentParser(prog="empathy", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def stage(name: str, func, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        # `empathy train --config` names a training preset, as the issue and the TrainJob pods use it
        flags = ("--pipeline-config",) if name == "train" else ("--config",)
        p.add_argument(*flags, dest="config", help="pipeline config YAML (default: configs/pipeline/demo.yaml)")
        p.set_defaults(func=func)
        return p

    p = stage("ingest", cmd_ingest, "load a corpus into records")
    p.add_argument("--corpus", help="corpus directory with sources.yaml (default: the config's corpus_dir)")
    p.add_argument("--edge-cases", help="edge_cases.jsonl exported by `empathy safety generate`, added as a source")
    p.add_argument("--out-dir", required=True)
    p = stage("pairs", cmd_pairs, "make Q/A pairs from records")
    p.add_argument("--records", required=True)
    p.add_argument("--out-dir", required=True)
    p = stage("validate", cmd_validate, "semantic validation of Q/A pairs")
    p.add_argument("--pairs", required=True)
    p.add_argument("--out-dir", required=True)
    p = stage("screen", cmd_screen, "de-identify accepted pairs, rate their risk, hold high risk for clinical review")
    p.add_argument("--accepted", required=True, help="accepted.jsonl of `empathy validate`")
    p.add_argument("--review-url", help="review queue database URL (default: $EMPATHY_REVIEW_URL, else the config's)")
    p.add_argument("--out-dir", required=True)
    p = stage("split", cmd_split, "curate (dedup, mix, extracted share), split by conversation, export, report")
    for flag in ("--records", "--pairs", "--accepted"):
        p.add_argument(flag, required=True)
    p.add_argument("--screened", required=True, help="passed.jsonl of `empathy screen`")
    p.add_argument("--held", required=True, help="held.jsonl of `empathy screen`")
    p.add_argument("--rejected", nargs="+", required=True, help="rejected files of the earlier stages")
    p.add_argument("--edge-cases-report", help="report.json of `empathy safety generate`: its counts per category and "
                   "difficulty go into the data report")
    p.add_argument("--out-dir", required=True)
    for name, func, help_ in (("train", cmd_train, "LoRA fine-tune the MoE model"),
                              ("evaluate", cmd_evaluate, "held-out metrics, appropriateness, crisis handling, output "
                               "safety, fairness and bias; gate preview; HTML report"),
                              ("register", cmd_register, "register the model in MLflow with an alias")):
        p = stage(name, func, help_)
        p.add_argument("--data", required=name != "train", help="directory written by `empathy split`")
        p.add_argument("--tracking-uri", help="MLflow tracking URI (default: the config's)")
        if name == "train":
            p.add_argument("--config", "--train-config", dest="train_config",
                           help="a training preset (configs/train/*.yaml) instead of the pipeline config's train section")
            p.add_argument("--out", help="model directory to write (required)")
            p.add_argument("--resume", action="store_true",
                           help="continue from the newest checkpoint in the preset's checkpoint_dir (a fresh start "
                                "where there is none)")
            _add_train_plan(p)
        else:
            p.add_argument("--model", required=True, help="fine-tuned model directory")
            p.add_argument("--run-id", required=True, help="the MLflow run of the training")
        if name == "evaluate":
            p.add_argument("--out", required=True, help="evaluation JSON to write (the HTML report goes beside it)")
    p = stage("deploy", cmd_deploy, "deploy a registered version and talk to it")
    p.add_argument("--model-uri", required=True, help="models:/NAME/VERSION or models:/NAME@ALIAS")
    p.add_argument("--target", choices=["local", "kubernetes"])
    p.add_argument("--inputs", help="JSONL of {id, text} to send (default: the corpus's inference inputs)")
    p.add_argument("--tracking-uri")
    p.add_argument("--out-dir", required=True)
    p = stage("monitor", cmd_monitor, "Evidently drift report: training vs inference inputs")
    p.add_argument("--data", required=True, help="directory written by `empathy split`")
    p.add_argument("--inference-log", required=True)
    p.add_argument("--out-dir", required=True)

    p = sub.add_parser("serve", help="serve a model with kserve's ModelServer")
    p.add_argument("--model", required=True, help="models:/NAME@ALIAS, models:/NAME/V or a model directory")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1; 0.0.0.0 opens it)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--name", help="model name in the routes (default: the registered name)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")
    _serve_setting_arguments(p)
    p.set_defaults(func=cmd_serve)

    # What KServe passes a transformer, under kserve.model_server's names and types (not imported here: kserve takes
    # seconds to import and every command builds this parser)
    p = sub.add_parser("guard", help="the safety guard as a KServe transformer in front of a predictor's OpenAI route")
    p.add_argument("--model_name", default="empathy-chat",
                   help="the model name clients send and the guard forwards (vLLM: the LoRA module's name)")
    p.add_argument("--predictor_host", help="the predictor's host[:port] (KServe: <isvc>-predictor.<namespace>)")
    p.add_argument("--http_port", type=int, default=8080, help="listen port (kserve's name for it)")
    p.add_argument("--predictor_protocol", choices=("v1", "v2", "grpc-v2"),
                   help="the predictor's KServe protocol, for its readiness check (default v2); chat goes to its "
                        "OpenAI route whatever this says")
    p.add_argument("--protocol", choices=("v1", "v2", "grpc-v2"), help="older name of --predictor_protocol")
    p.add_argument("--predictor_use_ssl", type=lambda x: x.lower() in ("1", "true", "yes"), default=False,
                   help="https to the predictor (true/false)")
    p.add_argument("--predictor_request_timeout_seconds", type=int, default=600)
    p.add_argument("--predictor_request_retries", type=int, default=0, help="retries of a failed connection")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1; 0.0.0.0 opens it)")
    p.add_argument("--port", type=int, help="listen port (overrides --http_port)")
    p.add_argument("--model-version", help="version for audit and metrics (default: the one the predictor reports)")
    _serve_setting_arguments(p)
    p.set_defaults(func=cmd_guard)

    safety = sub.add_parser("safety", help="clinical safety: categories, risk detection, edge-case generation").add_subparsers(
        dest="safety_command", required=True)
    p = safety.add_parser("categories", help="the 25 edge-case categories with difficulty and safety protocol")
    p.add_argument("--difficulty", choices=["very_high", "high", "moderate"])
    p.add_argument("--name", help="one category by name")
    p.set_defaults(func=cmd_safety_categories)
    p = safety.add_parser("generate", help="generate edge-case dialogues: rules, risk screen, review queue, export")
    p.add_argument("--config", help="pipeline config YAML; its edge_cases section (default: configs/pipeline/demo.yaml)")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--categories", help="comma-separated category names (default: the config's, else all 25)")
    p.add_argument("--per-category", type=int, help="dialogues per category")
    p.add_argument("--provider", choices=get_args(ProviderConfig.model_fields["name"].annotation))
    p.add_argument("--model", help="model id at the provider")
    p.add_argument("--review-url", help="review queue database URL (default: $EMPATHY_REVIEW_URL, else the config's)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out-dir, retrying failed requests")
    p.add_argument("--mlflow", action="store_true", help="log the report's metrics to the config's MLflow")
    p.set_defaults(func=cmd_safety_generate)
    p = safety.add_parser("classify", help="risk level and categories for each {id, text} line of a JSONL file")
    p.add_argument("file", help="JSONL input, one {\"id\", \"text\"} object per line")
    p.add_argument("--out", help="write the JSONL results here instead of stdout")
    p.set_defaults(func=cmd_safety_classify)
    p = safety.add_parser("train-detector", help="fit the risk detector and write its model file")
    p.add_argument("--data", default="data/safety/risk_labelled.jsonl", help="the labelled risk set")
    p.add_argument("--out", default="src/empathy/safety/risk_model.json", help="model file to write")
    p.add_argument("--recall-target", type=float,
                   help="out-of-fold recall of high/imminent the thresholds keep (default: RECALL_TARGET in "
                        "empathy.safety.risk; the model's "
                        "operating_points list what each target costs in false alarms)")
    p.set_defaults(func=cmd_safety_train_detector)
    p = safety.add_parser("evaluate-detector", help="risk detector accuracy on the test split: report.json + report.html")
    p.add_argument("--data", default="data/safety/risk_labelled.jsonl", help="the labelled risk set")
    p.add_argument("--model", help="model file (default: the packaged one)")
    p.add_argument("--out-dir", default="runs/safety/detector")
    p.set_defaults(func=cmd_safety_evaluate_detector)

    data = sub.add_parser("data", help="training data processing").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("process", help="every data stage on sources named KIND:PATH: chat JSONL splits, rejected.jsonl, "
                                        "report.json and report.html")
    p.add_argument("--source", action="append", default=[], required=True, metavar="KIND:PATH",
                   help="a source, e.g. annomi:../shared/data/annomi_full.csv (repeat); kinds: counsel_chat, annomi, "
                        "esconv, chat_jsonl, transcript, knowledge_base, edge_cases, dual_persona, qa_jsonl")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--config", help="pipeline config YAML; its pairs, validate, screen and split sections "
                                    "(default: configs/pipeline/demo.yaml)")
    p.add_argument("--review-url", help="review queue database URL (default: $EMPATHY_REVIEW_URL, else the config's)")
    p.add_argument("--embedding-cache", help="SQLite file of cached embeddings (default: OUT/cache/embeddings.sqlite)")
    p.set_defaults(func=cmd_data_process)
    p = data.add_parser("detect-type", help="detect the content type (dialogue, interview, podcast, monologue, "
                        "speech, qa) of a transcript or of each record of a JSONL file; prints JSON")
    p.add_argument("file", help="a transcript (.txt, .srt, .vtt) or a JSONL of records or {id, turns|text} objects")
    p.add_argument("--model", help="model file (default: the packaged one)")
    p.set_defaults(func=cmd_data_detect_type)
    p = data.add_parser("train-content-type", help="fit the content-type detector and write its model file")
    p.add_argument("--data", default="data/content_type/labelled.jsonl", help="the labelled content-type set")
    p.add_argument("--out", default="src/empathy/data/content_type_model.json", help="model file to write")
    p.set_defaults(func=cmd_data_train_content_type)
    p = data.add_parser("evaluate-content-type", help="content-type accuracy on the test split: report.json + "
                        "report.html")
    p.add_argument("--data", default="data/content_type/labelled.jsonl", help="the labelled content-type set")
    p.add_argument("--model", help="model file (default: the packaged one)")
    p.add_argument("--out-dir", default="runs/data/content_type")
    p.set_defaults(func=cmd_data_evaluate_content_type)
    p = data.add_parser("deidentify", help="replace names, places, dates, numbers... in each {id, text} line of a JSONL "
                        "file with typed placeholders")
    p.add_argument("file", help="JSONL input, one {\"id\", \"text\"} object per line")
    p.add_argument("--out", help="write the JSONL results ({id, text, counts}) here instead of stdout")
    p.set_defaults(func=cmd_data_deidentify)
    p = data.add_parser("validate-pairs", help="semantic validation of each {id, question, answer} line of a JSONL "
                        "file: one {id, score, accepted, reason} line each, in order")
    p.add_argument("file", help="JSONL input, one {\"id\", \"question\", \"answer\"} object per line")
    p.add_argument("--out", help="write the JSONL results here instead of stdout")
    p.add_argument("--model", help="validator model file (default: the config's, else the packaged one)")
    p.add_argument("--config", help="pipeline config YAML; its validate section (default: configs/pipeline/demo.yaml)")
    p.set_defaults(func=cmd_data_validate_pairs)
    for name, func, help_ in (("train-validator", cmd_data_train_validator,
                               "fit the semantic validator on counsel-chat's train split, calibrate it on val, and "
                               "write its model file"),
                              ("evaluate-validator", cmd_data_evaluate_validator,
                               "semantic validator vs plain cosine on counsel-chat's test split: report.json + "
                               "report.html")):
        p = data.add_parser(name, help=help_, description=help_)
        p.add_argument("--counsel-chat", help="counsel_chat.csv (default: $EMPATHY_SHARED_DATA, then ../shared/data)")
        p.add_argument("--generic", default="data/validate/generic_answers.jsonl", help="the generic answers")
        p.add_argument("--embedding-cache", help="SQLite file of cached embeddings (default: $EMPATHY_EMBEDDING_CACHE, "
                                                 "else none)")
        if name == "train-validator":
            p.add_argument("--out", default="src/empathy/data/validate_model.json",
                           help="model file to write (its bank, validate_bank.npz, goes beside it)")
        else:
            p.add_argument("--model", help="model file (default: the packaged one)")
            p.add_argument("--out-dir", default="runs/data/validator")
        p.set_defaults(func=func)
    p = data.add_parser("evaluate-deid", help="de-identification precision/recall on the labelled set and counts on the "
                        "real data sets: report.json + report.html")
    p.add_argument("--data", default="data/deid/labelled.jsonl", help="the labelled de-identification set")
    p.add_argument("--out-dir", default="runs/data/deid")
    p.add_argument("--no-real-data", action="store_true", help="skip the shared real data sets even where present")
    p.set_defaults(func=cmd_data_evaluate_deid)

    review = sub.add_parser("review", help="the clinical review queue of high-risk training items").add_subparsers(
        dest="review_command", required=True)

    def review_cmd(name: str, func, help_: str) -> argparse.ArgumentParser:
        p = review.add_parser(name, help=help_, description=help_)
        p.add_argument("--url", help="queue database URL (default: $EMPATHY_REVIEW_URL, else the config's)")
        p.add_argument("--config", help="pipeline config YAML (default: configs/pipeline/demo.yaml)")
        p.set_defaults(func=func)
        return p

    p = review_cmd("list", cmd_review_list, "list queued items")
    p.add_argument("--status", help="pending, approved or rejected")
    p.add_argument("--category")
    p.add_argument("--json", action="store_true")
    p = review_cmd("show", cmd_review_show, "one item: its dialogue, risk and audit trail")
    p.add_argument("item_id")
    p.add_argument("--json", action="store_true")
    for name, func, help_ in (("approve", cmd_review_approve, "approve an item for training"),
                              ("reject", cmd_review_reject, "reject an item (a note is required)")):
        p = review_cmd(name, func, help_)
        p.add_argument("item_id")
        p.add_argument("--reviewer", required=True, help="the clinician's name, recorded in the audit trail")
        p.add_argument("--note", help="why (required to reject)")
    p = review_cmd("audit", cmd_review_audit, "print the audit trail and check its hash chain")
    p.add_argument("--item-id", help="only this item's entries")
    p.add_argument("--verify", action="store_true", help="only check the chain; exit 1 if broken")

    from empathy.config import SERVING_ROLES

    auth = sub.add_parser("auth", help="API keys for the serving API").add_subparsers(dest="auth_command",
                                                                                    required=True)
    auth_url_help = "key store URL (default: $EMPATHY_AUTH_URL, else sqlite:///runs/serve/auth.db)"
    p = auth.add_parser("create-key", help="create an API key for a role and print it (shown only once)")
    p.add_argument("--role", required=True, choices=SERVING_ROLES)
    p.add_argument("--subject", help="who the key is for (default: a generated subject id)")
    p.add_argument("--url", help=auth_url_help)
    p.set_defaults(func=cmd_auth_create_key)
    p = auth.add_parser("revoke-key", help="revoke a key by its id (emp_<id>_...) or the whole key")
    p.add_argument("key_id")
    p.add_argument("--url", help=auth_url_help)
    p.set_defaults(func=cmd_auth_revoke_key)
    p = auth.add_parser("list-keys", help="key ids, roles, subjects and state (never the keys)")
    p.add_argument("--url", help=auth_url_help)
    p.set_defaults(func=cmd_auth_list_keys)
    audit = sub.add_parser("audit", help="the serving audit log").add_subparsers(dest="audit_command", required=True)
    p = audit.add_parser("verify", help="walk the hash chain; exit 1 naming the first changed or deleted entry")
    p.add_argument("--url", help="audit log URL (default: $EMPATHY_AUDIT_URL, else sqlite:///runs/serve/audit.db)")
    p.set_defaults(func=cmd_audit_verify)

    from empathy.config import PROMOTION_STAGES

    registry = sub.add_parser("registry", help="promote registered model versions through the gates; model cards"
                              ).add_subparsers(dest="registry_command", required=True)

    def registry_cmd(name: str, func, help_: str) -> argparse.ArgumentParser:
        p = registry.add_parser(name, help=help_, description=help_)
        p.add_argument("--model", required=True, help="registered model name, e.g. empathy-chat")
        p.add_argument("--version", required=True, help="model version number")
        p.add_argument("--config", help="pipeline config YAML with the gates (default: configs/pipeline/demo.yaml)")
        p.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else the config's)")
        p.set_defaults(func=func)
        return p

    p = registry_cmd("promote", cmd_registry_promote, "move the stage's alias to a version when its gates pass "
                     "(exit 1 with the missed metrics when blocked)")
    p.add_argument("--to", required=True, choices=PROMOTION_STAGES,
                   help="target stage (production needs staging first)")
    p = registry_cmd("card", cmd_registry_card, "write a version's model card (markdown)")
    p.add_argument("--out", required=True, help="markdown file to write")

    pipe = sub.add_parser("pipeline", help="run, compile or submit the Kubeflow pipeline").add_subparsers(
        dest="pipeline_command", required=True)
    p = pipe.add_parser("run", help="run the pipeline with kfp's local runner")
    p.add_argument("--local", action="store_true", help="run with kfp's local runner (the only mode here)")
    p.add_argument("--config")
    p.add_argument("--output-dir", default="runs/demo")
    p.set_defaults(func=cmd_pipeline_run)
    p = pipe.add_parser("compile", help="compile the pipeline to YAML")
    p.add_argument("--config", default="configs/pipeline/cluster.yaml")
    p.add_argument("--output", default="pipelines/training_pipeline.yaml")
    p.set_defaults(func=cmd_pipeline_compile)
    p = pipe.add_parser("submit", help="submit the compiled pipeline to Kubeflow Pipelines")
    p.add_argument("--host", required=True, help="KFP API endpoint, e.g. https://kubeflow.example.org/pipeline")
    p.add_argument("--package", default="pipelines/training_pipeline.yaml")
    p.add_argument("--experiment", default="empathy")
    p.add_argument("--run-name")
    p.add_argument("--arguments", help="JSON object of pipeline parameters to override")
    p.set_defaults(func=cmd_pipeline_submit)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # MLflow (configured when it is imported) and its migrations log INFO lines
    # on stderr; keep stderr for what the user must read.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        args.func(args)
    except UserError as exc:
        print(f"empathy {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except StageFailed as exc:
        print(f"empathy {args.command}: failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
