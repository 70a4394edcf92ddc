"""The GAN's training loop: the ordinary :class:`~engine.loop.Trainer` with another step (a
discriminator update, then a generator update with the non-saturating loss), another evaluation
(sample quality, see :mod:`engine.gan`) and two losses per step. Pause/stop, the reporting cadence,
checkpoints and the NaN checks are the Trainer's own."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.errors import TrainingError
from engine.gan import GAN_BETAS, QUALITY_SAMPLES, GanRecipe, Part, SampleJudge
from engine.loop import Trainer, make_optimizer, make_scheduler
from graph.plan import value_of


class PartModule(nn.Module):
    """The layers of one part of a compiled network, run in the plan's order. The layers are
    shared with the whole network, not copied, so the part's state_dict keys are the network's."""

    def __init__(self, model: Any, part: Part) -> None:
        super().__init__()
        plan = model.plan
        self.input_name = next(s.name for s in plan.inputs if s.node.id == part.input_node.id)
        self.program: list[tuple[str, tuple[str | None, ...]]] = []
        for step in plan.steps:
            if step.node.id in part.node_ids and step.call is not None:
                self.add_module(step.name, getattr(model, step.name))
                self.program.append((step.name, step.args))
        self.output_arg = next(s.args[0] for s in plan.outputs if s.node.id == part.output_node.id)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        env = {self.input_name: x}
        for name, args in self.program:
            env[name] = getattr(self, name)(*[None if a is None else value_of(env, a) for a in args])
        return value_of(env, self.output_arg)


class GanTrainer(Trainer):
    recipe: GanRecipe

    def _setup(self) -> None:
        super()._setup()
        if self.scaler is not None:
            # two optimizers with fp16 loss scaling is not worth it for GANs this size: full precision
            self.scaler = None
            self.autocast = contextlib.nullcontext
        recipe = self.recipe
        device = self.device
        self.noise_gen = (torch.Generator(device=device) if device.type == "cuda" else torch.Generator())
        self.noise_gen.manual_seed(self.options.seed + 1)
        fixed = torch.Generator().manual_seed(self.options.seed + 2)
        self.fixed_noise = torch.randn((QUALITY_SAMPLES, *recipe.noise_shape), generator=fixed).to(device)
        self.judge = SampleJudge(recipe.dataset, device, self.options.seed)
        self.generated_preview = np.zeros((0, *recipe.dataset.input_shape), dtype=np.float32)

    def _setup_optimizers(self) -> None:
        opts, recipe = self.options, self.recipe
        self.generator = PartModule(self.model, recipe.generator)
        self.discriminator = PartModule(self.model, recipe.discriminator)
        betas = GAN_BETAS if opts.optimizer == "adam" else None
        self.g_params = [p for p in self.generator.parameters() if p.requires_grad]
        self.d_params = [p for p in self.discriminator.parameters() if p.requires_grad]
        frozen = bool(self.frozen)
        self.optimizer = make_optimizer(self.generator, opts, frozen=frozen, params=self.g_params, betas=betas,
                                        what="The generator")
        self.d_optimizer = make_optimizer(self.discriminator, opts, frozen=frozen, params=self.d_params,
                                          betas=betas, lr=opts.discriminator_lr or opts.lr,
                                          what="The discriminator")
        self.scheduler, self.per_step_schedule = make_scheduler(self.optimizer, opts, self.steps_per_epoch)
        d_scheduler, _ = make_scheduler(self.d_optimizer, opts, self.steps_per_epoch)
        self.extra_schedulers = [d_scheduler] if d_scheduler is not None else []

    def _make_step(self) -> Any:
        G, D = self.generator, self.discriminator
        g_opt, d_opt = self.optimizer, self.d_optimizer
        bce = self.loss_fn
        clip, g_params, d_params = self.options.grad_clip, self.g_params, self.d_params
        schedulers = ([self.scheduler, *self.extra_schedulers] if self.per_step_schedule else [])
        autocast, slots, parts = self.autocast, self.loss_slots, self.parts_slots
        noise_shape, noise_gen, device = self.recipe.noise_shape, self.noise_gen, self.device

        def step(xb: torch.Tensor, yb: torch.Tensor, b: int, k: int) -> None:
            z = torch.randn((len(xb), *noise_shape), generator=noise_gen, device=device)
            with autocast():
                fake = G(z)
                real_score = D(xb)
                fake_score = D(fake.detach())
                d_loss = (bce(real_score, torch.ones_like(real_score))
                          + bce(fake_score, torch.zeros_like(fake_score)))
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(d_params, clip)
            d_opt.step()
            with autocast():
                score = D(fake)
                g_loss = bce(score, torch.ones_like(score))      # non-saturating: make D call fakes real
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward(inputs=g_params)
            if clip:
                torch.nn.utils.clip_grad_norm_(g_params, clip)
            g_opt.step()
            for scheduler in schedulers:
                scheduler.step()
            losses = torch.stack([g_loss.detach().float(), d_loss.detach().float()])
            parts[k].copy_(losses)
            slots[k].copy_(losses.sum())
        return step

    def evaluate(self) -> dict[str, Any]:
        """Sample quality of the generator on a fixed batch of noise (see the module docstring)."""
        self.model.eval()
        with torch.inference_mode(), self.autocast():
            samples = self.generator(self.fixed_noise).float().cpu().numpy()
        self.generated_preview = samples
        if not np.isfinite(samples).all():
            raise TrainingError(f"The generator produced NaN or infinite samples after epoch {self.epoch}: lower "
                                f"the learning rate (it is {self.optimizer.param_groups[0]['lr']:g}) or turn on "
                                "gradient clipping.", "nan", step=self.step)
        result = self.judge(samples.reshape(len(samples), -1))
        result["d_lr"] = float(self.d_optimizer.param_groups[0]["lr"])
        return result

    def _diagnose(self, exc: Exception, xb: Any) -> Exception:
        found = super()._diagnose(exc, None)
        if found is not exc or not isinstance(exc, RuntimeError | ValueError | IndexError):
            return found
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return TrainingError(f"The GAN step failed at step {self.step + 1}: {first}. Check the generator's and the "
                             f"discriminator's layers and the shapes feeding them.", "shape", step=self.step + 1)
