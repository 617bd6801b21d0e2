"""`mlci k8s render`: write a Kubernetes target's manifests as YAML files, for teams that deploy
through GitOps (Argo CD, Flux) instead of letting `mlci deploy` apply them."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlci import log
from mlci.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=".mlci.yml", metavar="FILE", help="default: .mlci.yml")
    parser.add_argument("--target", metavar="NAME", help="deploy target of type kubernetes (required when several)")
    parser.add_argument(
        "--image", metavar="REF", help="image pinned by digest; default: reports/build/image.json of `mlci build`"
    )
    parser.add_argument("--slot", choices=["blue", "green"], help="blue-green targets: the slot to render (blue)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the YAML files, one per object")


def main(args: argparse.Namespace) -> int:
    from mlci import config
    from mlci.deploy import find_target, manifests
    from mlci.steps.deploy import resolve_image

    loaded = config.load(args.config)
    target = find_target(loaded.config, args.target)
    if target.type != "kubernetes":
        raise InputError(f"target: {target.name} is of type {target.type}; `mlci k8s render` needs type kubernetes")
    image = resolve_image(args.image, loaded.project_dir)
    objects = manifests.render(loaded.config, target, image, args.slot)
    for path in manifests.write(objects, Path(args.out)):
        log.info(f"wrote {path}")
    return 0
