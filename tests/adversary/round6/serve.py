"""serve.py VARIANT: start that variant on 127.0.0.1 and print PORT/KEY/PRODUCT/IDS."""
import sys

import server
from variants import VARIANTS


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "reference"
    if name not in VARIANTS:
        sys.exit("unknown variant %s" % name)
    srv = server.make(name)
    print("PORT=%d" % srv.server_address[1])
    print("KEY=%s" % server.KEY)
    print("PRODUCT=%s" % server.PRODUCT)
    print("IDS=%s" % ",".join(server.SEEDS))
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
