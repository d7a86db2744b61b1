"""Model zoo (installed as `dfpengine.models`): functions returning `dfpengine.nn.Module`s.

Every function takes `num_classes` and `in_channels`; parameter names follow
PyTorch/torchvision so checkpoints load into PyTorch under the same names.
"""
from .alexnet import alexnet
from .lenet import lenet5
from .mlp import mlp
from .resnet import resnet18, resnet50
from .resnet_cifar import resnet20, resnet32, resnet56
from .vgg import vgg11, vgg16

MODELS = {f.__name__: f for f in (
    mlp, lenet5, resnet20, resnet32, resnet56, resnet18, resnet50, vgg11, vgg16, alexnet)}

# models whose layer sizes depend on the input image size
TAKES_IMAGE_SIZE = ("mlp", "lenet5")
# models whose pooling stages shrink smaller images to nothing
MIN_IMAGE_SIZE = {"vgg11": 32, "vgg16": 32, "alexnet": 32}


def create(name, num_classes, in_channels, image_size):
    """Build model `name` for the given data; unknown names raise ValueError listing the known ones."""
    try:
        factory = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None
    if image_size < MIN_IMAGE_SIZE.get(name, 0):
        raise ValueError(f"{name} needs images of at least {MIN_IMAGE_SIZE[name]}x{MIN_IMAGE_SIZE[name]}, "
                         f"these are {image_size}x{image_size}")
    if name in TAKES_IMAGE_SIZE:
        return factory(num_classes=num_classes, in_channels=in_channels, image_size=image_size)
    return factory(num_classes=num_classes, in_channels=in_channels)


__all__ = ["MODELS", "create"] + list(MODELS)
