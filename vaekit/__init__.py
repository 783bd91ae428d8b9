"""The modules the notebook imports besides helpers.py: MNIST, the checks of each part, checkpoints,
figure files and the exact likelihood. Handed out with the notebook; students do not edit them."""
