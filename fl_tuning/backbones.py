"""The backbones every framework builds, by the names the command line and records use."""
BACKBONES = ('bert', 'nezha', 'roformer')
