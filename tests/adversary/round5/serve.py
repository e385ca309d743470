import sys, base
from variants import VARIANTS
base.serve(VARIANTS[sys.argv[1]][0])
