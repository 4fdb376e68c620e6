"""Training checkpoints (RUN_DIR/checkpoint.pt) and the state a run starts from: a checkpoint, a model file or
a new model.

A checkpoint is a torch.save dict: model (state dict), optimizer (Adam's, left out by --light-checkpoint), ema
(the averaged model's state dict, when the EMA is on), step, hours, architecture (its registered name; checkpoints
without one are of the default architecture), config (the architecture's) and args (the options).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ModelMismatchError
from ..layers import GDN
from ..model_files import load_model_file, read_manifest
from ..registry import architecture, default_architecture
from .distributed import Distributed
from .ema import EMA


@dataclass
class TrainingState:
    """What a checkpoint holds: the model, Adam, the EMA (None when off, and on ranks other than 0), progress."""

    model: torch.nn.Module  # its architecture's training module
    optimizer: torch.optim.Optimizer
    ema: EMA | None
    step: int
    hours: float
    adam_from: int = 0  # the step at which Adam's state started: the learning-rate warm-up counts from it


def save_checkpoint(path: Path, state: TrainingState, args: argparse.Namespace) -> None:
    """Write the checkpoint atomically (a temporary file, then a rename)."""
    checkpoint = {"model": state.model.state_dict(), "step": state.step, "hours": state.hours,
                  "architecture": state.model.architecture, "config": state.model.config.to_dict(), "args": vars(args)}
    if not args.light_checkpoint:
        checkpoint["optimizer"] = state.optimizer.state_dict()
        checkpoint["adam_from"] = state.adam_from
    if state.ema is not None:
        checkpoint["ema"] = state.ema.state_dict()
    temporary = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, temporary)
    temporary.replace(path)


def load_checkpoint(path: Path, raw: bool = False) -> tuple[torch.nn.Module, dict]:
    """The model of a training checkpoint (eval mode), with the EMA weights when it has them unless RAW, and the
    checkpoint's entries."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    entry = architecture(checkpoint["architecture"]) if "architecture" in checkpoint else default_architecture()
    model = entry.training_module(entry.read_config(checkpoint["config"]))
    model.load_state_dict(checkpoint["model"] if raw or "ema" not in checkpoint else checkpoint["ema"])
    return model.eval(), checkpoint


# Options that are part of a run's recipe: a --resume that does not give them keeps the run's own. (option, the
# values that need no word, how to read the saved value, the line that says it is kept)
_RECIPE = (
    ("quality_weights", (None,), lambda v: tuple(float(w) for w in v),
     lambda v: f"qualities drawn as the run drew them: --quality-weights {','.join(f'{w:g}' for w in v)}"),
    ("rounding", (None, "noise"), str, lambda v: f"latents rounded as the run rounded them: --rounding {v}"),
)


def _keep_recipe(args: argparse.Namespace, saved: dict, main: bool) -> None:
    """Set each recipe option that ARGS leaves unset (None) to the checkpoint's SAVED one, saying so on rank 0."""
    for name, plain, read, line in _RECIPE:
        if saved.get(name) not in plain and getattr(args, name, None) is None:
            setattr(args, name, read(saved[name]))
            if main:
                print(line(getattr(args, name)), flush=True)


def start_state(args: argparse.Namespace, dist: Distributed) -> TrainingState:
    """The state to train from, on this process's device: RUN_DIR/checkpoint.pt with --resume when there is one,
    else the --init model file, else a new model of --config. The EMA (rank 0 only) resumes from the checkpoint
    or starts from the current weights."""
    path = Path(args.run_dir) / "checkpoint.pt"
    checkpoint: dict = {}
    if args.resume and path.is_file():
        model, checkpoint = load_checkpoint(path, raw=True)
        step, hours = checkpoint["step"], checkpoint["hours"]
        asked = getattr(args, "lambdas", None)
        if asked and tuple(float(v) for v in asked) != tuple(model.config.lambdas):
            raise SystemExit(f"{path} trains lambdas {', '.join(f'{v:g}' for v in model.config.lambdas)}; "
                             f"--lambdas widens an --init model (resume without it, or start a new run dir)")
        _keep_recipe(args, checkpoint.get("args", {}), dist.main)
    elif args.init:
        model, _, digest = load_model_file(Path(args.init))
        step, hours = _init_progress(args, digest)
        if getattr(args, "lambdas", None):
            model = widen_quality_table(model, args.lambdas)
            if dist.main:
                print(f"quality table widened to {len(args.lambdas)} lambdas, "
                      f"{args.lambdas[0]:g} to {args.lambdas[-1]:g}", flush=True)
        model = transplant(model, getattr(args, "architecture", None) or model.architecture,
                           json.loads(getattr(args, "config", None) or "{}"), dist.main)
    else:
        try:
            entry = architecture(args.architecture) if getattr(args, "architecture", None) else default_architecture()
        except KeyError as error:
            raise SystemExit(f"error: --architecture: {error.args[0]}") from None
        config = entry.read_config(json.loads(args.config)) if args.config else entry.config_class()
        model, step, hours = entry.training_module(config), 0, 0.0
    # The model goes to its device before Adam's state is loaded, so that the state follows it there.
    model.to(dist.device).train()
    if dist.device.type == "cpu" or args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    trained = getattr(args, "train_only", "all")
    if trained != "all":
        chosen = {"encoder": model.encoder_parameters, "synthesis": model.synthesis_parameters,
                  "decoder": lambda: set(model.parameters()) - set(model.encoder_parameters())}[trained]()
        ids = {id(p) for p in chosen}
        for p in model.parameters():
            p.requires_grad_(id(p) in ids)
    optimizer = torch.optim.Adam(parameter_groups(model, getattr(args, "modulation_lr_scale", 1.0)), lr=args.lr)
    resumed_as = checkpoint.get("args", {}).get("train_only", "all")
    if "optimizer" in checkpoint and resumed_as != trained:
        raise SystemExit(f"{path} trained --train-only {resumed_as}; resume it with that, or start a new run dir "
                         f"from a model file (--init)")
    if "optimizer" in checkpoint:
        optimizer.load_state_dict(regrouped(checkpoint["optimizer"], optimizer))
    ema = EMA(model, args.ema_decay, checkpoint.get("ema")) if args.ema_decay and dist.main else None
    if checkpoint and dist.main:
        notes = [] if "optimizer" in checkpoint else ["no optimizer state in it, Adam starts afresh"]
        if ema is not None and "ema" not in checkpoint:
            notes.append("no EMA in it, the average starts from these weights")
        if ema is None and "ema" in checkpoint:
            notes.append("its EMA is dropped (--ema-decay 0)")
        print(f"resumed from {path} at step {step} ({hours:.2f} h)" + "".join(f"; {n}" for n in notes), flush=True)
    # Adam's state resumes with a checkpoint that holds it, and then so does its warm-up; otherwise both start here
    adam_from = int(checkpoint.get("adam_from", 0)) if "optimizer" in checkpoint else step
    return TrainingState(model, optimizer, ema, step, hours, adam_from)


def parameter_groups(model: torch.nn.Module, modulation_scale: float) -> list[dict]:
    """Adam's parameter groups: every trained parameter in one, or, with a MODULATION_SCALE other than 1, an
    aec-conditional-v1 model's modulations in a second whose learning rate is that many times the rest's
    (``lr_scale``). The parameters keep the model's order in both cases (the modulations are registered last), so
    Adam's state carries over when the grouping changes (``regrouped``)."""
    trained = [p for p in model.parameters() if p.requires_grad]
    if modulation_scale == 1.0:
        return [{"params": trained}]
    if not modulation_scale > 0:
        raise SystemExit(f"--modulation-lr-scale must be above 0, not {modulation_scale}")
    modulations = {id(p) for name, p in model.named_parameters() if "_modulation." in name}
    rest = [p for p in trained if id(p) not in modulations]
    scaled = [p for p in trained if id(p) in modulations]
    if not scaled:
        raise SystemExit(f"--modulation-lr-scale: {model.architecture} has no trained modulations "
                         "(aec-conditional-v1 has)")
    if [id(p) for p in rest + scaled] != [id(p) for p in trained]:
        raise SystemExit(f"--modulation-lr-scale: {model.architecture} registers its modulations before other "
                         "parameters")
    return [{"params": rest}, {"params": scaled, "lr_scale": modulation_scale}]


def regrouped(saved: dict, optimizer: torch.optim.Optimizer) -> dict:
    """SAVED (an Adam state dict) in OPTIMIZER's parameter groups, when only the grouping of the same parameters in
    the same order differs (a run resumed with another --modulation-lr-scale); SAVED itself otherwise."""
    groups = optimizer.param_groups
    sizes = [len(group["params"]) for group in groups]
    if [len(group["params"]) for group in saved["param_groups"]] == sizes:
        for group, mine in zip(saved["param_groups"], groups):  # the same grouping; the scale may have changed
            group["lr_scale"] = mine.get("lr_scale", 1.0)
        return saved
    indexes = [index for group in saved["param_groups"] for index in group["params"]]
    if len(indexes) != sum(sizes):
        return saved  # not a regrouping: load_state_dict says what does not fit
    template = {key: value for key, value in saved["param_groups"][0].items() if key not in ("params", "lr_scale")}
    new_groups, start = [], 0
    for group, size in zip(groups, sizes):
        new_groups.append({**template, "params": indexes[start:start + size], "lr_scale": group.get("lr_scale", 1.0)})
        start += size
    return {"state": saved["state"], "param_groups": new_groups}


def widen_quality_table(model: torch.nn.Module, lambdas: tuple[float, ...]) -> torch.nn.Module:
    """A copy of MODEL trained for LAMBDAS (ascending, and holding every lambda the model was trained for): every
    weight is kept; each new quality's gain vectors continue the trained ones log-linearly in log-lambda, channel by
    channel (between two trained qualities, or along the slope of the two nearest ends), so that a new quality
    starts where the trained curve points rather than at an untrained gain."""
    old = tuple(model.config.lambdas)
    lambdas = tuple(float(v) for v in lambdas)
    if list(lambdas) != sorted(set(lambdas)) or not set(old) <= set(lambdas):
        raise SystemExit(f"--lambdas must ascend and hold the model's own ({', '.join(f'{v:g}' for v in old)})")
    if len(old) < 2 and len(lambdas) > len(old):
        raise SystemExit("a model trained for one lambda has no slope to continue its gains along")
    widened = architecture(model.architecture).training_module(dataclasses.replace(model.config, lambdas=lambdas))
    state = model.state_dict()
    log_old = torch.log(torch.tensor(old, dtype=torch.float64))
    for name in ("log_gains", "log_inverse_gains"):
        trained = state[name].double()
        rows = []
        for value in lambdas:
            x = torch.log(torch.tensor(value, dtype=torch.float64))
            # the pair of trained qualities to interpolate between, or the nearest end pair to extrapolate along
            high = int(min(max(int(torch.searchsorted(log_old, x)), 1), len(old) - 1))
            low = high - 1
            t = (x - log_old[low]) / (log_old[high] - log_old[low])
            rows.append(trained[low] + (trained[high] - trained[low]) * t)
        state[name] = torch.stack(rows).float()
    widened.load_state_dict(state)
    return widened


GAIN_TABLES = ("log_gains", "log_inverse_gains")


def grown(key: str, theirs: torch.Tensor, mine: torch.Tensor, module: torch.nn.Module | None) -> torch.Tensor | None:
    """MINE (a new model's tensor KEY) holding THEIRS in its leading block when every dimension of it grew or
    stayed, so that the grown model computes what the old one did: a float convolution's new input channels get zero
    weights, its new output channels keep their fresh start; a gain table's new channels start at the mean of the
    trained ones. None when THEIRS does not fit, or KEY is not one of those (an integer layer's, a GDN's)."""
    if mine.dim() != theirs.dim() or any(m < t for m, t in zip(mine.shape, theirs.shape)):
        return None
    out = mine.detach().clone()
    out[tuple(slice(0, size) for size in theirs.shape)] = theirs
    if key in GAIN_TABLES:
        out[:, theirs.shape[1]:] = theirs.mean(dim=1, keepdim=True)
        return out
    leaf = key.rsplit(".", 1)[-1]
    if isinstance(module, torch.nn.ConvTranspose2d) and leaf == "weight":  # (in, out, k, k)
        out[theirs.shape[0]:] = 0.0
    elif isinstance(module, torch.nn.Conv2d) and leaf == "weight":  # (out, in, k, k)
        out[:, theirs.shape[1]:] = 0.0
    elif not (isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) and leaf == "bias"):
        return None
    return out


def narrowed(key: str, theirs: torch.Tensor, mine: torch.Tensor, module: torch.nn.Module | None) -> torch.Tensor | None:
    """THEIRS' leading block in MINE's shape when KEY is a float transform's (g_a's or g_s's convolution or GDN) and
    every dimension shrank or stayed: a narrower transform starts from the first channels of the trained one (a GDN
    keeps those channels' own normalization), a smaller kernel from the centre taps of the trained one's. None
    otherwise."""
    if (not key.startswith(("g_a.", "g_s.")) or mine.dim() != theirs.dim()
            or any(m > t for m, t in zip(mine.shape, theirs.shape))
            or not isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, GDN))):
        return None
    spatial = mine.dim() == 4 and isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))
    return theirs[tuple(slice((t - m) // 2, (t - m) // 2 + m) if spatial and axis >= 2 else slice(0, m)
                        for axis, (m, t) in enumerate(zip(mine.shape, theirs.shape)))].detach().clone()


def transplant(model: torch.nn.Module, name: str, fields: dict, verbose: bool) -> torch.nn.Module:
    """A new model of architecture NAME whose config is MODEL's with FIELDS changed, holding every tensor of MODEL
    that it has under the same name and shape (the rest start as a new model's): a light synthesis under a trained
    encoder and probability path, or narrower slice networks under the same transforms. More latent channels (M, in
    more slices of the same width) keep the trained ones: the float layers and gain tables that M sizes are grown
    (``grown``), the new slices' networks start fresh, and the grown model decodes as the old one did but for the
    new channels' bits. MODEL itself when that is what it already is. The quality table is MODEL's (--lambdas widens
    it), whatever FIELDS say."""
    fields = {key: value for key, value in fields.items() if key != "lambdas"}
    try:
        entry = architecture(name)
        config = entry.read_config({**model.config.to_dict(), **fields})
    except (KeyError, ValueError, TypeError) as error:
        raise SystemExit(f"error: --architecture/--config: {error.args[0]}") from None
    if name == model.architecture and config == model.config:
        return model
    target = entry.training_module(config)
    theirs, mine = model.state_dict(), target.state_dict()
    kept = {key: value for key, value in theirs.items() if key in mine and mine[key].shape == value.shape}
    if config.M > model.config.M and config.M // config.slices != model.config.M // model.config.slices:
        raise SystemExit(f"error: --config: M {model.config.M} -> {config.M} keeps the trained slices only at their "
                         f"width, {model.config.M // model.config.slices}: set slices to "
                         f"{config.M * model.config.slices // model.config.M}")
    modules = dict(target.named_modules())
    grew = {}
    if config.M > model.config.M:
        for key, value in theirs.items():
            if key in mine and key not in kept:
                tensor = grown(key, value, mine[key], modules.get(key.rsplit(".", 1)[0]))
                if tensor is not None:
                    grew[key] = tensor
    narrow = {}
    for key, value in theirs.items():
        if key in mine and key not in kept and key not in grew:
            tensor = narrowed(key, value, mine[key], modules.get(key.rsplit(".", 1)[0]))
            if tensor is not None:
                narrow[key] = tensor
    mine.update(kept)
    mine.update(grew)
    mine.update(narrow)
    target.load_state_dict(mine)
    if verbose:
        fresh = sorted({key.rsplit(".", 2)[0] for key in mine if key not in kept and key not in grew
                        and key not in narrow})
        print(f"{name} from the --init model: {len(kept)} of {len(mine)} tensors kept, {len(grew)} grown, "
              f"{len(narrow)} narrowed; new: {', '.join(fresh) or 'none'}", flush=True)
    return target


def _init_progress(args: argparse.Namespace, digest: str) -> tuple[int, float]:
    """Steps and hours already in an --init model, from the manifest entry with its hash (0 when unknown), so a
    run restarted from shipped weights keeps counting instead of starting over at step 0."""
    for directory in dict.fromkeys([Path(args.init).parent, Path(args.weights_dir)]):
        try:
            models = read_manifest(directory).get("models", {})
        except ModelMismatchError:  # no or unreadable manifest there: nothing to count from
            continue
        for model_id, entry in models.items():
            if entry.get("sha256") == digest and "training" in entry:
                print(f"starting from {model_id}: {entry['training']['steps']} steps, "
                      f"{entry['training']['hours']} h", flush=True)
                return int(entry["training"]["steps"]), float(entry["training"]["hours"])
    return 0, 0.0
