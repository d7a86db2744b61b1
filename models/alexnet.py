"""AlexNet for 32x32 inputs, the CIFAR variant of bearpaw/pytorch-classification (2.47M parameters)."""
from dfpengine import nn


class AlexNet(nn.Module):
    def __init__(self, num_classes=10, in_channels=3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 11, stride=4, padding=5), nn.ReLU(), nn.MaxPool2d(2, stride=2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, stride=2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, stride=2))
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(256, num_classes)

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


def alexnet(num_classes=10, in_channels=3):
    """2,472,266 parameters with 10 classes; needs 32x32 inputs."""
    return AlexNet(num_classes, in_channels)
