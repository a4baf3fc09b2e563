"""A small ResNet for 28x28 digits: a stem, two basic blocks with identity
shortcuts written inline, one with a projection shortcut (1x1 conv, stride 2,
BatchNorm), global average pooling and a linear head."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallResNet(nn.Module):
    def __init__(self, num_classes=10, width=16):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        # block 1: identity shortcut
        self.b1_conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.b1_bn1 = nn.BatchNorm2d(width)
        self.b1_conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.b1_bn2 = nn.BatchNorm2d(width)
        # block 2: downsampling, projection shortcut
        self.b2_conv1 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, bias=False)
        self.b2_bn1 = nn.BatchNorm2d(2 * width)
        self.b2_conv2 = nn.Conv2d(2 * width, 2 * width, 3, padding=1, bias=False)
        self.b2_bn2 = nn.BatchNorm2d(2 * width)
        self.shortcut = nn.Sequential(
            nn.Conv2d(width, 2 * width, kernel_size=1, stride=2, bias=False),
            nn.BatchNorm2d(2 * width),
        )
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        identity = out
        out = F.relu(self.b1_bn1(self.b1_conv1(out)))
        out = self.b1_bn2(self.b1_conv2(out))
        out += identity
        out = F.relu(out)
        identity = self.shortcut(out)
        out = F.relu(self.b2_bn1(self.b2_conv1(out)))
        out = self.b2_bn2(self.b2_conv2(out))
        out = F.relu(out + identity)
        out = self.pool(out)
        out = torch.flatten(out, 1)
        return self.fc(out)
