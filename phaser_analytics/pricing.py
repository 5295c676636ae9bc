"""What tokens cost: a bundled price table per model family, overridable in config.

Prices are US dollars per million tokens, as Anthropic's pricing page lists them
(https://platform.claude.com/docs/en/about-claude/pricing, read 2026-11-21; docs/metrics.md
has the table and its caveats). A model the table and the config do not name has no
price: its cost stays unknown and one warning says so. A price is never guessed from a
neighbouring model, because a guessed figure in a cost report reads like a measured one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import stderr_warning

PER_TOKENS = 1_000_000
#: Cost figures are kept to a millionth of a dollar: finer is noise, coarser loses
#: the cost of a single cache read.
COST_DIGITS = 6


@dataclass(frozen=True)
class Price:
    """USD per million tokens of each kind. ``cache_write`` is the 5-minute cache write;
    ``cache_write_1h`` the 1-hour one (``None``: priced as ``cache_write``)."""

    input: float
    output: float
    cache_write: float
    cache_read: float
    cache_write_1h: float | None = None


def _price(inp: float, out: float, write: float, write_1h: float, read: float) -> Price:
    # Argument order follows the columns of Anthropic's pricing table.
    return Price(input=inp, output=out, cache_write=write, cache_read=read, cache_write_1h=write_1h)


_OPUS_45 = _price(5, 25, 6.25, 10, 0.50)
_OPUS_4 = _price(15, 75, 18.75, 30, 1.50)
_SONNET_4 = _price(3, 15, 3.75, 6, 0.30)

#: Keys are :func:`model_key` of a model id: family, then version (``sonnet-4-5``).
BUNDLED_PRICES: dict[str, Price] = {
    "fable-5-1": _price(10, 50, 12.50, 20, 0.25),
    "fable-5": _price(10, 50, 12.50, 20, 1.00),
    "mythos-5-1": _price(10, 50, 12.50, 20, 0.25),
    "mythos-5": _price(10, 50, 12.50, 20, 1.00),
    "opus-5-5": _price(4, 20, 5, 8, 0.20),
    "opus-5": _OPUS_45,
    "opus-4-8": _OPUS_45,
    "opus-4-7": _OPUS_45,
    "opus-4-6": _OPUS_45,
    "opus-4-5": _OPUS_45,
    "opus-4-1": _OPUS_4,
    "opus-4": _OPUS_4,
    "opus-3": _OPUS_4,
    "sonnet-5": _price(2, 10, 2.50, 4, 0.20),
    "sonnet-4-6": _SONNET_4,
    "sonnet-4-5": _SONNET_4,
    "sonnet-4": _SONNET_4,
    "sonnet-3-7": _SONNET_4,
    "haiku-4-5": _price(1, 5, 1.25, 2, 0.10),
    "haiku-3-5": _price(0.80, 4, 1, 1.6, 0.08),
    "haiku-3": _price(0.25, 1.25, 0.30, 0.50, 0.03),
}

_FAMILIES = "opus|sonnet|haiku|fable|mythos"
_OLD_STYLE = re.compile(rf"^(\d+(?:-\d+)?)-({_FAMILIES})$")  # claude-3-5-sonnet
_DATE_SUFFIX = re.compile(r"-(\d{8}|latest)$")
_PROVIDER_SUFFIX = re.compile(r"(@.*|-v\d+(:\d+)?)$")  # Vertex @date, Bedrock -v1:0


def model_key(model: str) -> str:
    """The table key of a model id: ``claude-sonnet-4-5-20250929`` → ``sonnet-4-5``.

    Bedrock (``us.anthropic.…-v1:0``) and Vertex (``…@20250929``) ids, Claude Code's
    context suffix (``[1m]``) and Claude 3's order (``claude-3-5-haiku``) are understood;
    ``opus-4-0`` is ``opus-4``.
    """
    key = model.strip().lower()
    key = key.rsplit("anthropic.", 1)[-1]
    key = re.sub(r"\[.*\]$", "", key)
    key = _PROVIDER_SUFFIX.sub("", key)
    key = _DATE_SUFFIX.sub("", key)
    key = key.removeprefix("claude-")
    if match := _OLD_STYLE.match(key):
        key = f"{match.group(2)}-{match.group(1)}"
    return key.removesuffix("-0")


class PricingConfigError(ValueError):
    """A ``pricing`` entry in a config file that is not a price."""


_FIELDS = ("input", "output", "cache_write", "cache_read")


def price_from_config(name: str, value: Any) -> Price:
    """A :class:`Price` from a config entry ``{"input": 3, "output": 15, "cache_write":
    3.75, "cache_read": 0.3}`` (``cache_write_1h`` optional)."""
    if not isinstance(value, Mapping):
        raise PricingConfigError(f"pricing entry '{name}' is not an object of prices")
    numbers: dict[str, float] = {}
    for field_name in (*_FIELDS, "cache_write_1h"):
        number = value.get(field_name)
        if number is None and field_name == "cache_write_1h":
            continue
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise PricingConfigError(
                f"pricing entry '{name}' needs a number for '{field_name}' (USD per million tokens)"
            )
        if not math.isfinite(number) or number < 0:
            raise PricingConfigError(f"pricing entry '{name}' has a negative '{field_name}'")
        numbers[field_name] = float(number)
    return Price(**numbers)


def prices_from_config(
    section: Any, warn: Callable[[str], None], where: str = "config key 'pricing'"
) -> dict[str, Price]:
    """The valid entries of a config's ``pricing`` object; a bad entry is warned about and
    left out, so one typo does not cost every other price."""
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        warn(f"{where} is not an object; the bundled prices are used.")
        return {}
    prices: dict[str, Price] = {}
    for name, value in section.items():
        try:
            prices[str(name)] = price_from_config(str(name), value)
        except PricingConfigError as exc:
            warn(f"{where}: {exc}; it is ignored.")
    return prices


@dataclass
class PriceBook:
    """Bundled prices with a config's on top. A config key may be a full model id or a
    table key (``sonnet-4-5``); the full id is looked up first."""

    overrides: Mapping[str, Price] = field(default_factory=dict)
    bundled: Mapping[str, Price] = field(default_factory=lambda: BUNDLED_PRICES)

    def price(self, model: str) -> Price | None:
        if model in self.overrides:
            return self.overrides[model]
        key = model_key(model)
        return self.overrides.get(key) or self.bundled.get(key)


def cost_usd(usage: Mapping[str, int], price: Price) -> float:
    """The cost of ``usage`` ({input, output, cache_creation, cache_read} and optionally
    cache_creation_1h, the part of cache_creation written to the 1-hour cache)."""
    write_1h = usage.get("cache_creation_1h", 0)
    write_5m = usage.get("cache_creation", 0) - write_1h
    hour_price = price.cache_write if price.cache_write_1h is None else price.cache_write_1h
    dollars = (
        usage.get("input", 0) * price.input
        + usage.get("output", 0) * price.output
        + write_5m * price.cache_write
        + write_1h * hour_price
        + usage.get("cache_read", 0) * price.cache_read
    ) / PER_TOKENS
    return round(dollars, COST_DIGITS)


# -- configuration ------------------------------------------------------------------------


def config_prices(
    project_dir: Path | None, warn: Callable[[str], None] = stderr_warning
) -> dict[str, Price]:
    """Prices under ``analytics.pricing`` of ``$PHASER_HOME/config.json``, then of
    ``{project}/.phaser/config.json`` (the project's win), read with the shared config
    loader. A file that cannot be read costs its prices, with a warning, not the tokens."""
    from .config import SECTION, ConfigError, config_files, read_config_file

    files = config_files(project_dir or Path())
    if project_dir is None:
        files = files[:1]  # weakest first: without a project, the user's file alone
    prices: dict[str, Price] = {}
    for path, _base in files:
        try:
            section = read_config_file(path)
        except ConfigError as exc:
            warn(f"{exc} Its prices are ignored; the bundled ones are used.")
            continue
        if "pricing" in section:
            where = f"{path}: '{SECTION}.pricing'"
            prices.update(prices_from_config(section["pricing"], warn, where))
    return prices


_warned: set[str] = set()


def warn_unpriced(model: str, warn: Callable[[str], None] = stderr_warning) -> None:
    """Say once per process that ``model`` has no price."""
    if model in _warned:
        return
    _warned.add(model)
    warn(
        f"model '{model}' has no price in the bundled table or the config's "
        '"analytics.pricing"; '
        "its tokens are counted but the cost of executions that used it is left unknown "
        "(add one to .phaser/config.json, see docs/metrics.md)."
    )
