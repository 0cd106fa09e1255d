"""Named training recipes for `glassnet train RECIPE`, one module each, every one built on `glassnet.train.Trainer`.

Each runs with no data folder, on a data set bundled in the package (or generated), and says so on its first line;
`--data DIR` switches to the full files. A recipe is a plain function `run(RecipeConfig) -> run folder`; the folder
holds what any Trainer run holds (config.json, history.json/.csv, checkpoints/last.safetensors for `--resume`,
artefacts/), plus model.safetensors and results.json, and `glassnet report` reads it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from glassnet.recipes import char_lstm, gan_ring, lenet_mnist, mlp_digits, mnist_mlp, tiny_gpt
from glassnet.recipes.common import (
    Recipe,
    RecipeConfig,
    RecipeError,
    default_data_dir,
    epoch_order,
    load_mnist_arrays,
    read_results,
)

RECIPES: dict[str, Recipe] = {
    m.RECIPE.name: m.RECIPE for m in (mlp_digits, mnist_mlp, lenet_mnist, char_lstm, tiny_gpt, gan_ring)
}


def get_recipe(name: str) -> Recipe:
    """The recipe called `name`, or a RecipeError naming the known ones."""
    if name not in RECIPES:
        raise RecipeError(f"unknown recipe {name!r}; known recipes: {', '.join(RECIPES)} (see `glassnet list`)")
    return RECIPES[name]


def run(name: str, config: RecipeConfig | None = None, **options) -> Path:
    """Run recipe `name` (`options` are recipe options such as steps_per_epoch=20); return its run folder."""
    config = config or RecipeConfig()
    if options:
        config = replace(config, options={**config.options, **options})
    return get_recipe(name).run(config)


__all__ = [
    "RECIPES",
    "Recipe",
    "RecipeConfig",
    "RecipeError",
    "default_data_dir",
    "epoch_order",
    "get_recipe",
    "load_mnist_arrays",
    "read_results",
    "run",
]
