"""LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, as commonly trained today."""
from dfpengine import nn


class LeNet5(nn.Module):
    def __init__(self, num_classes=10, in_channels=1, image_size=28):
        super().__init__()
        # the original network sees 32x32 inputs; smaller images are zero-padded up to it
        pad = max(0, (32 - image_size) // 2)
        side = ((image_size + 2 * pad - 4) // 2 - 4) // 2
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=pad)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(120, 84)
        self.relu4 = nn.ReLU()
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu3(self.fc1(self.flatten(x)))
        return self.fc3(self.relu4(self.fc2(x)))


def lenet5(num_classes=10, in_channels=1, image_size=28):
    """61,706 parameters for 10 classes on 28x28 or 32x32 grey images."""
    return LeNet5(num_classes, in_channels, image_size)
