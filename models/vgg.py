"""VGG-11 and VGG-16 with batch norm (Simonyan & Zisserman 2015), torchvision parameter names.

`head="imagenet"` is torchvision's vgg*_bn head (7x7 adaptive pool, two 4096-wide
dropout layers); `head="cifar"` is the usual CIFAR head: global average pool and
one Linear(512, num_classes). Five 2x2 max pools need inputs of at least 32x32.
"""
from dfpengine import nn

CONFIGS = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
}


def make_features(config, in_channels):
    layers = []
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
            in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, config, num_classes=10, in_channels=3, head="cifar", dropout=0.5):
        super().__init__()
        if head not in ("cifar", "imagenet"):
            raise ValueError(f"head must be 'cifar' or 'imagenet', got {head!r}")
        self.features = make_features(config, in_channels)
        self.flatten = nn.Flatten()
        if head == "cifar":
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.classifier = nn.Linear(512, num_classes)
        else:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(dropout),
                nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
                nn.Linear(4096, num_classes))
        self._initialise()

    def _initialise(self):
        # torchvision's initialisation: He-normal convolutions (fan out), small normal classifier
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.flatten(self.avgpool(self.features(x))))


def vgg11(num_classes=10, in_channels=3, head="cifar"):
    """With batch norm: 9,231,114 parameters (cifar head, 10 classes); 132,868,840 (imagenet head, 1000)."""
    return VGG(CONFIGS["vgg11"], num_classes, in_channels, head)


def vgg16(num_classes=10, in_channels=3, head="cifar"):
    """With batch norm: 14,728,266 parameters (cifar head, 10 classes); 138,365,992 (imagenet head, 1000)."""
    return VGG(CONFIGS["vgg16"], num_classes, in_channels, head)
