"""Model zoo: published parameter counts, PyTorch names, forward and backward on tiny inputs."""
import numpy as np
import pytest

import dfpengine
from dfpengine.models import MODELS, create, resnet18, resnet50, vgg11, vgg16
from dfpengine.nn import functional as F


def count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, expected", [
    ("lenet5", 61_706), ("resnet20", 269_722), ("resnet32", 464_154), ("resnet56", 853_018),
    ("alexnet", 2_472_266), ("vgg11", 9_231_114), ("vgg16", 14_728_266),
])
def test_cifar_size_parameter_counts(name, expected):
    assert count(MODELS[name](num_classes=10)) == expected


@pytest.mark.parametrize("factory, expected", [(resnet18, 11_689_512), (resnet50, 25_557_032)])
def test_imagenet_resnet_counts_match_torchvision(factory, expected):
    assert count(factory(num_classes=1000)) == expected


@pytest.mark.parametrize("factory, expected", [(vgg11, 132_868_840), (vgg16, 138_365_992)])
def test_vgg_imagenet_head_counts_and_names_match_torchvision(factory, expected):
    model = factory(num_classes=1000, head="imagenet")
    assert count(model) == expected
    names = model.state_dict()
    assert "features.0.weight" in names and "features.1.running_var" in names
    assert "classifier.6.weight" in names


def test_torchvision_state_dict_names():
    names = list(resnet18(num_classes=10).state_dict())
    for key in ("conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked",
                "layer1.0.bn1.running_mean", "layer2.0.downsample.0.weight",
                "layer2.0.downsample.1.running_var", "fc.weight", "fc.bias"):
        assert key in names
    assert "layer3.2.conv2.weight" in create("resnet20", 10, 3, 32).state_dict()


# (model, image size, channels): the smallest inputs each layout supports
TINY = [("mlp", 8, 1), ("lenet5", 28, 1), ("resnet20", 8, 3), ("resnet18", 16, 3),
        ("resnet50", 16, 3), ("vgg11", 32, 3), ("alexnet", 32, 3)]


@pytest.mark.parametrize("name, size, channels", TINY)
def test_forward_backward_tiny(name, size, channels):
    dfpengine.manual_seed(0)
    model = create(name, num_classes=5, in_channels=channels, image_size=size)
    x = dfpengine.from_numpy(np.random.default_rng(0).standard_normal((2, channels, size, size), np.float32))
    y = dfpengine.from_numpy(np.array([1, 4]))
    logits = model(x)
    assert logits.shape == (2, 5)
    F.cross_entropy(logits, y).backward()
    for name_, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name_
        assert np.isfinite(p.grad.numpy()).all(), name_


def test_resnet20_shortcut_pads_channels_with_zeros():
    from dfpengine.models.resnet_cifar import PadShortcut
    x = np.arange(2 * 16 * 4 * 4, dtype=np.float32).reshape(2, 16, 4, 4)
    y = PadShortcut(16, 32, 2)(dfpengine.from_numpy(x)).numpy()
    assert y.shape == (2, 32, 2, 2)
    np.testing.assert_array_equal(y[:, 8:24], x[:, :, ::2, ::2])
    assert not y[:, :8].any() and not y[:, 24:].any()


def test_unknown_model_names_the_known_ones():
    with pytest.raises(ValueError, match="resnet20"):
        create("resnet21", 10, 3, 32)


def test_too_small_images_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="vgg11 needs images of at least 32x32, these are 28x28"):
        create("vgg11", 10, 1, 28)
