"""CIFAR ResNets (He et al. 2016, section 4.2): 6n+2 layers, widths 16-32-64.

Shortcuts are option A (parameter free: subsample, then zero-pad the new
channels), the variant whose counts match the paper: resnet20 0.27M, resnet32
0.46M, resnet56 0.85M. Parameter names follow torchvision (conv1, bn1,
layerK.i.conv1, fc), so state dicts line up with PyTorch ports.
"""
from dfpengine import nn


class PadShortcut(nn.Module):
    """Option A shortcut: keep every `stride`-th pixel, zero-pad channels in_planes -> planes
    (half before, the rest after, as the usual PyTorch ports do); no parameters."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.stride = stride
        self.before = (planes - in_planes) // 2
        self.after = planes - in_planes - self.before

    def forward(self, x):
        # x[:, :, ::stride, ::stride], then `pad` over channels: the same numbers, one pass
        return nn.functional.subsample_pad(x, self.stride, self.before, self.after)


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Identity()
        if stride != 1 or in_planes != planes:
            self.shortcut = PadShortcut(in_planes, planes, stride)

    def forward(self, x):
        # relu(bn(.)) and relu(bn(.) + shortcut) run as fused ops (self.relu: for the layout only)
        out = self.bn1(self.conv1(x), relu=True)
        out = self.conv2(out)
        return self.bn2(out, relu=True, residual=self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth, num_classes=10, in_channels=3):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.layer1 = self._make_layer(16, 16, n, 1)
        self.layer2 = self._make_layer(16, 32, n, 2)
        self.layer3 = self._make_layer(32, 64, n, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, num_classes)
        # He-normal convolutions and classifier, as in the reference CIFAR ResNet code
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    @staticmethod
    def _make_layer(in_planes, planes, blocks, stride):
        layers = [BasicBlock(in_planes, planes, stride)]
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.bn1(self.conv1(x), relu=True)
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.flatten(self.avgpool(x)))


def resnet20(num_classes=10, in_channels=3):
    """269,722 parameters with 10 classes."""
    return CifarResNet(20, num_classes, in_channels)


def resnet32(num_classes=10, in_channels=3):
    """464,154 parameters with 10 classes."""
    return CifarResNet(32, num_classes, in_channels)


def resnet56(num_classes=10, in_channels=3):
    """853,018 parameters with 10 classes."""
    return CifarResNet(56, num_classes, in_channels)
