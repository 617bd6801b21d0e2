"""Command-line entry: parse arguments and dispatch. Imports nothing heavy, so that
`mlci --help` and `mlci --version` stay fast; every command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from mlci import __version__, contracts
from mlci.errors import EXIT_BAD_INPUT, MlciError

# Flags the step commands have themselves; a param of the same name gets another flag.
RENAMED_FLAGS = {"configFile": "--config", "params": "--param"}
FLAG_DEST = "param_"  # argparse attribute prefix of the flags made from contract params


def flag_name(param: str) -> str:
    """`runId` -> `--run-id`: the flag a contract param gets on the command line."""
    return RENAMED_FLAGS.get(param) or "--" + re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", param).lower()


def _key_value(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` of a map flag; VALUE is JSON when it parses as JSON, else the text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


ARG_TYPES: dict[str, Callable[[str], Any]] = {"string": str, "integer": int, "number": float}


def _param_flag(p: argparse.ArgumentParser, param: contracts.Param) -> None:
    help_text = param.description.replace("%", "%%")
    dest = FLAG_DEST + param.name
    flag = flag_name(param.name)
    if param.type == "boolean":
        p.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, help=help_text)
    elif param.type == "list":
        item = ARG_TYPES[param.items or "string"]
        p.add_argument(flag, dest=dest, action="append", type=item, metavar="ITEM", help=help_text + " (repeatable)")
    elif param.type == "map":
        p.add_argument(
            flag, dest=dest, action="append", type=_key_value, metavar="KEY=VALUE", help=help_text + " (repeatable)"
        )
    else:
        metavar = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", param.name).upper()
        p.add_argument(flag, dest=dest, type=ARG_TYPES[param.type], metavar=metavar, help=help_text)


def _step_parser(sub: argparse._SubParsersAction, contract: contracts.Contract, name: str | None = None) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        name or contract.command,
        help=contract.summary,
        description=contract.description + " Each param has a flag; flags override the params file.",
    )
    p.add_argument("--params", metavar="FILE", help="JSON object of step params (what Jenkins writes)")
    p.add_argument("--result", metavar="FILE", help="write the result JSON here")
    for param in contract.params.values():
        if param.scope != "groovy":
            _param_flag(p, param)
    p.set_defaults(step=contract.command)


def step_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The contract params given as flags, as a params file would hold them."""
    given: dict[str, Any] = {}
    for dest, value in vars(args).items():
        if dest.startswith(FLAG_DEST) and value is not None:
            name = dest[len(FLAG_DEST) :]
            pairs = isinstance(value, list) and value and isinstance(value[0], tuple)
            given[name] = dict(value) if pairs else value  # a map flag collects (key, value) pairs
    return given


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mlci",
        description="CI/CD for machine-learning models. Each step is one command; Jenkins runs "
        "`mlci <step> --params F --result R`, a laptop runs `mlci run`.",
    )
    p.add_argument("--version", action="version", version=f"mlci {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the pipeline's stages locally, in order")
    run.add_argument("--config", default=".mlci.yml", metavar="FILE", help="default: .mlci.yml")
    run.add_argument("--stage", action="append", dest="stages", metavar="NAME", help="run only this stage (repeatable)")
    run.add_argument("--yes", action="store_true", help="approve approval stages without asking")

    cfg = sub.add_parser("config", help="show the effective config or its JSON Schema")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = cfg_sub.add_parser("show", help="print the effective config (defaults < .mlci.yml), secrets redacted")
    show.add_argument("--config", default=".mlci.yml", metavar="FILE", help="default: .mlci.yml")
    show.add_argument("--json", action="store_true", help="JSON instead of YAML")
    cfg_sub.add_parser("schema", help="print the JSON Schema of .mlci.yml")

    from mlci.deploy import render
    from mlci.image import base_args
    from mlci.serving import settings

    settings.add_arguments(sub.add_parser("serve", help="serve an MLflow model (the entry point of mlci images)"))
    base_args.add_arguments(sub.add_parser("base-image", help="build a Python base image from a Debian mirror"))
    k8s = sub.add_parser("k8s", help="Kubernetes targets: render their manifests")
    k8s_sub = k8s.add_subparsers(dest="k8s_command", metavar="ACTION", required=True)
    render.add_arguments(k8s_sub.add_parser("render", help="write a kubernetes target's manifests (for GitOps)"))

    assets = sub.add_parser("monitoring-assets", help="write the Prometheus scrape config, alert rules and dashboard")
    assets.add_argument("--config", default=".mlci.yml", metavar="FILE", help="default: .mlci.yml")
    assets.add_argument("--out", default="monitoring", metavar="DIR", help="folder to write them to (monitoring)")

    for step in contracts.step_names():
        _step_parser(sub, contracts.load(step))
    _data_parser(sub)
    return p


def _data_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    data = sub.add_parser("data", help="validate data files, or suggest an expectation suite from a dataset")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    # `mlci data validate` is the user-facing spelling of the `data-validate` step.
    _step_parser(data_sub, contracts.by_command("data-validate"), "validate")
    suggest = data_sub.add_parser(
        "suggest", help="write a starting expectation suite from reference datasets; it holds on every one"
    )
    suggest.add_argument(
        "datafiles", nargs="+", metavar="DATAFILE", help="CSV, Parquet or JSON-lines files (training data, holdout)"
    )
    suggest.add_argument("--out", required=True, metavar="FILE", help="where to write the suite JSON")
    suggest.add_argument("--name", help="suite name (default: the output file's stem)")
    suggest.add_argument("--margin", type=float, default=0.1, help="numeric ranges widened by this share (0.1)")
    suggest.add_argument(
        "--max-categories", type=int, default=20, help="value sets for columns with at most this many values (20)"
    )


def _config_command(args: argparse.Namespace) -> int:
    from mlci import config

    if args.config_command == "schema":
        print(json.dumps(config.json_schema(), indent=2))
        return 0
    data = config.effective(config.load(args.config))
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        import yaml

        print(yaml.safe_dump(data, sort_keys=False).rstrip())
    return 0


def _step_command(args: argparse.Namespace) -> int:
    from mlci import protocol

    code, result = protocol.run_step(args.step, None, args.params, args.result, step_flags(args))
    if args.step == "plan" and code == 0:
        print(json.dumps(result["outputs"]["stages"], indent=2))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    from mlci import log

    args = parser().parse_args(argv)
    if args.command != "serve":  # the model server has no step credentials, and logs per request
        log.setup()
    if args.command is None:
        parser().print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        if args.command == "run":
            from mlci import run

            return run.run(args.config, args.stages, args.yes)
        if args.command == "config":
            return _config_command(args)
        if args.command == "data" and args.data_command == "suggest":
            from mlci.data import suggest

            return suggest.main(args.datafiles, args.out, args.name, args.margin, args.max_categories)
        if args.command == "serve":
            from mlci.serving import server, settings

            return server.serve(settings.from_args(args))
        if args.command == "k8s":
            from mlci.deploy import render

            return render.main(args)
        if args.command == "monitoring-assets":
            from mlci.monitoring import assets

            return assets.main(args.config, args.out)
        if args.command == "base-image":
            from mlci.image import base

            return base.main(args)
        return _step_command(args)
    except MlciError as err:
        log.error(str(err))
        for line in err.details:
            log.error(line)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
