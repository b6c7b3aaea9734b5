"""The one training step: train, doctor and bench run it (issue 32: the step was written four times)."""
from pathlib import Path

import torch

import gtzan_gpu
from gtzan_gpu.training.step import cross_entropy_of, training_step


def test_the_step_updates_the_weights_and_returns_detached_loss_and_logits():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.weight.detach().clone()
    x, labels = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    expected = torch.nn.functional.cross_entropy(model(x), labels).item()  # the loss at the step's weights
    loss, logits = training_step(lambda: model(x), cross_entropy_of(labels), optimizer, torch.device("cpu"), False)
    assert not loss.requires_grad and not logits.requires_grad and logits.shape == (5, 3)
    assert loss.item() == expected and not torch.equal(before, model.weight)


def test_backward_is_called_in_the_training_step_module_only():
    package = Path(gtzan_gpu.__file__).parent
    callers = sorted(str(p.relative_to(package)) for p in package.rglob("*.py") if ".backward(" in p.read_text())
    # Grad-CAM differentiates a class score, the roofline times a front end's own backward: neither is a step
    assert callers == ["bench/roofline.py", "training/step.py"], callers
