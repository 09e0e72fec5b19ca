# moto's server as Leadpipe's emulator: `python3 moto.py HOST PORT`.
# Prints "ready" once it listens and stops when its standard input closes,
# so it dies with whoever started it. MOTO_RECORDER_FILEPATH (moto's own
# setting) names the recorder's log when a run wants one (make chaos).
#
# Five patches make moto behave like the services it stands in for, and
# keep it fast enough for runs of thousands of leads:
#  1. DynamoDB is atomic and isolated: one lock around the table operations
#     (moto runs TransactWriteItems without one, and a transaction cancelled
#     on one thread could wipe another thread's committed writes).
#  2. A transaction is backed up by the items it touches, not by a deep
#     copy of the whole table per item (O(table size) per transaction).
#  3. A query reads the one partition it names (moto sorts the whole table
#     on every Query, then filters it), and an index query skips that sort
#     (its matches are sorted afterwards anyway).
#  4. SQS's ReceiveMessage checks each message's retention by computing
#     every attribute of the queue, message counts included: O(queue
#     depth) per message, O(depth²) per receive. It reads the one number.
#  5. Every request finds its service by listing moto's package folder (a
#     stat per service, ~150) and trying every service's URL patterns, all
#     under the dispatcher's one lock, so requests queued behind it: the
#     answer for a host never changes, so it is remembered (`make latency`
#     found this: BENCHMARKS.md, "Latency").
import copy, logging, sys, threading

try:
    from werkzeug.serving import make_server
    from moto.core.utils import unix_time
    from moto.dynamodb.models import DynamoDBBackend
    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models.table import Table
    from moto.sqs.models import SQSBackend
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
except ImportError:
    print("moto is not installed: pip install 'moto[server]'", flush=True)
    sys.exit(3)

logging.getLogger("werkzeug").setLevel(logging.ERROR)

_lock = threading.RLock()


class _NoTableCopy:
    @staticmethod
    def deepcopy(x, memo=None):
        return x if isinstance(x, Table) else copy.deepcopy(x, memo)


dynamodb_models.copy = _NoTableCopy
_original_tx = DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items):
    backup = []
    for item in transact_items:
        try:
            op_type, op = next(iter(item.items()))
            name = op["TableName"]
            table = self.get_table(name)
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            current = self.get_item(name, key)
            backup.append((name, key, current.to_json()["Attributes"] if current else None))
        except Exception:
            pass
    try:
        return _original_tx(self, transact_items)
    except Exception:
        for name, key, attrs in reversed(backup):
            try:
                if attrs is None:
                    if self.get_item(name, key) is not None:
                        self.delete_item(name, key)
                else:
                    self.put_item(name, attrs)
            except Exception:
                pass
        raise


DynamoDBBackend.transact_write_items = _transact_write_items


_original_query = Table.query
_original_all_items = Table.all_items


def _table_query(self, hash_key, *args, **kwargs):
    # args: range_comparison, range_objs, limit, exclusive_start_key,
    # scan_index_forward, projection_expressions, index_name, ...
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    self._leadpipe_scope = ("index",) if index_name else ("partition", hash_key)
    try:
        return _original_query(self, hash_key, *args, **kwargs)
    finally:
        self._leadpipe_scope = None


def _all_items(self):
    scope = getattr(self, "_leadpipe_scope", None)
    if scope is None:
        return _original_all_items(self)
    if scope[0] == "partition":
        bucket = self.items.get(scope[1])
        if bucket is None:
            return []
        return list(bucket.values()) if self.range_key_attr else [bucket]
    items = []
    for bucket in self.items.values():
        if self.range_key_attr:
            items.extend(bucket.values())
        else:
            items.append(bucket)
    return items


# Table.query runs only under the lock below (DynamoDBBackend.query), so the
# scope it sets is never seen by another thread.
Table.query = _table_query
Table.all_items = _all_items


def _serialised(name):
    original = getattr(DynamoDBBackend, name)

    def wrapper(self, *args, **kwargs):
        with _lock:
            return original(self, *args, **kwargs)

    setattr(DynamoDBBackend, name, wrapper)


for _name in ("put_item", "get_item", "update_item", "delete_item", "query", "scan",
              "transact_write_items", "transact_get_items", "batch_get_item", "batch_write_item"):
    _serialised(_name)


def _retained(self, queue_name, message):
    period = int(self.get_queue(queue_name).message_retention_period)
    return period + message.sent_timestamp / 1000 > unix_time()


SQSBackend.is_message_valid_based_on_retention_period = _retained

_backend_for_host = {}
_original_backend_for_host = DomainDispatcherApplication.get_backend_for_host


# Called under the dispatcher's lock, so the dict needs no lock of its own.
def _remembered_backend_for_host(self, host):
    if host not in _backend_for_host:
        _backend_for_host[host] = _original_backend_for_host(self, host)
    return _backend_for_host[host]


DomainDispatcherApplication.get_backend_for_host = _remembered_backend_for_host

# Bound here, not in moto's ThreadedMotoServer: that one binds in its
# thread, and a port taken meanwhile left it waiting forever for a server
# that had died. A port in use is told on the first line instead.
import errno, socket

_probe = socket.socket()
# As werkzeug binds (and Rust's TcpListener): a port whose last server was
# killed, its connections still in TIME_WAIT, is free to take again.
_probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    _probe.bind((sys.argv[1], int(sys.argv[2])))
except OSError as e:
    if e.errno == errno.EADDRINUSE:
        print(f"cannot listen on {sys.argv[1]}:{sys.argv[2]}: in use", flush=True)
        sys.exit(4)
    print(f"the emulator cannot bind {sys.argv[1]}:{sys.argv[2]}: {e.strerror or e}", flush=True)
    sys.exit(5)
finally:
    _probe.close()
try:
    server = make_server(
        sys.argv[1], int(sys.argv[2]), DomainDispatcherApplication(create_backend_app), threaded=True
    )
except (OSError, SystemExit) as e:
    # werkzeug reports a failed bind on stderr and exits: taken since the
    # probe above.
    print(f"cannot listen on {sys.argv[1]}:{sys.argv[2]}: {getattr(e, 'strerror', None) or 'in use'}", flush=True)
    sys.exit(4)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
server.shutdown()
