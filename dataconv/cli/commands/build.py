"""``dataconv build RECIPE.yaml``: several sources into one dataset (dataconv/build/recipe.py)."""
from __future__ import annotations

import os

import click

from dataconv.build.conversion import RunOptions
from dataconv.io.remote import is_url


@click.command("build", short_help="Convert several sources, as a recipe file says, into one dataset.")
@click.argument("recipe_file", metavar="RECIPE.yaml", type=click.Path(exists=True, dir_okay=False))
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes checking images [default: every core].")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def build(recipe_file: str, workers: int | None, quiet: bool) -> None:
    """Convert every source of RECIPE.yaml (each in its own format, with its own options,
    ratio and cap) into one dataset, with per-source counts in manifest.json and the
    mixing settings of clovaai, PaddleOCR and MMOCR (docs/formats.md, "Recipes")."""
    from dataconv.build import pipeline, splits
    from dataconv.build.executors import default_workers
    from dataconv.build.recipe import RecipeSources, load_recipe, render_mixing, subfolder
    from dataconv.optionspec import values
    from dataconv.outputs import manifest
    from dataconv.outputs.atomic import check_target
    from dataconv.outputs.summary import format_summary

    recipe = load_recipe(recipe_file)
    check_target(recipe.out, recipe.overwrite, recipe.inputs)
    recorded = {"recipe": os.path.basename(recipe_file), "split": recipe.split, "seed": recipe.seed,
                "layout": recipe.layout, "per_source_folders": recipe.per_source_folders,
                "dedupe": recipe.dedupe,
                "sources": [{"name": s.name, "format": s.info.name, "ratio": s.ratio, "cap": s.cap,
                             "weight": s.weight, "options": manifest.portable_options(values(s.options), s.input)}
                            for s in recipe.sources]}
    for obj in recipe.checks.given:
        recorded.update(values(obj))
    config = pipeline.Config(
        src=os.path.dirname(os.path.abspath(recipe_file)), out=recipe.out, overwrite=recipe.overwrite,
        split=splits.parse_ratios(recipe.split), seed=recipe.seed, layout=recipe.layout,
        shard_size=RunOptions.__dataclass_fields__["shard_size"].default,
        workers=workers or default_workers(), dedupe=recipe.dedupe, checks=recipe.checks,
        progress=not quiet, manifest_options=recorded,
        subfolder=subfolder if recipe.per_source_folders else None)
    card = pipeline.run(RecipeSources(recipe), config)
    click.echo(format_summary(card, recipe.out if is_url(recipe.out) else os.path.abspath(recipe.out)))
    for name, counts in card["sources"].items():
        click.echo(f"  {name:<12} {counts['format']:<14} {counts['input']:>7} input, "
                   f"{counts['written']:>7} written, {counts['rejected']:>7} rejected")
    for line in render_mixing(card["mixing"]):
        click.echo(line)


COMMANDS = [build]
