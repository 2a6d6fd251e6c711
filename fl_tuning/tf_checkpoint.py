"""TensorFlow checkpoints (the tensor-bundle format Google's BERT releases use) read and
written with NumPy alone, so that the PyTorch side loads and exports the same folders
without TensorFlow.

A prefix ``p`` has ``p.index``, a table (LevelDB's layout, uncompressed) from each
variable name to its dtype, shape, shard, byte range and masked CRC32C, and
``p.data-*-of-*``, the raw little-endian bytes. Each variable read is checked against its
CRC32C as TensorFlow's reader does, so a damaged file is refused by both frameworks with
the same message.
"""
import os
import struct

import google_crc32c
import numpy as np

from fl_tuning.errors import CheckpointError

TABLE_MAGIC = 0xdb4775248b80fb57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5  # compression type and CRC after every block
# TensorFlow's DataType numbers of the dtypes a model checkpoint holds.
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8,
          9: np.int64, 10: np.bool_, 19: np.float16}
CRC_MASK_DELTA = 0xa282ead8
NUMPY_DTYPES = dict((np.dtype(dtype), number) for number, dtype in DTYPES.items())
BUNDLE_VERSION = 1  # TensorFlow's kTensorBundleVersion


def masked_crc32c(data):
    """LevelDB's crc32c::Mask of the data's CRC32C (its inverse below)."""
    crc = google_crc32c.value(data)
    return ((((crc >> 15) | (crc << 17)) & 0xffffffff) + CRC_MASK_DELTA) & 0xffffffff


def unmasked_crc32c(masked):
    """The CRC32C a bundle entry stores masked (LevelDB's crc32c::Mask: rotated right by
    15 bits, plus a constant, so that a CRC of data holding CRCs stays unlikely)."""
    rotated = (masked - CRC_MASK_DELTA) & 0xffffffff
    return ((rotated >> 17) | (rotated << 15)) & 0xffffffff


def varint(data, position):
    """(value, next position) of a base-128 varint."""
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7f) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def protobuf_fields(data):
    """(field number, value) of a serialized message: ints for varints, bytes otherwise."""
    position = 0
    while position < len(data):
        key, position = varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = varint(data, position)
        elif wire == 1:
            value, position = data[position:position + 8], position + 8
        elif wire == 2:
            length, position = varint(data, position)
            value, position = data[position:position + length], position + length
        elif wire == 5:
            value, position = data[position:position + 4], position + 4
        else:
            raise ValueError('unsupported protobuf wire type %d' % wire)
        yield number, value


def block_entries(data):
    """(key, value) of a table block (keys prefix-compressed, restart array at the end)."""
    restarts = struct.unpack('<I', data[-4:])[0]
    end = len(data) - 4 * (restarts + 1)
    position, key = 0, b''
    while position < end:
        shared, position = varint(data, position)
        unshared, position = varint(data, position)
        length, position = varint(data, position)
        key = key[:shared] + data[position:position + unshared]
        position += unshared
        yield key, data[position:position + length]
        position += length


def block_handle(data):
    offset, position = varint(data, 0)
    size, _ = varint(data, position)
    return offset, size


class Entry(object):
    """Where a variable's bytes are, and what they are."""

    def __init__(self, data):
        self.dtype, self.shape, self.shard, self.offset, self.size, self.crc32c = 1, (), 0, 0, 0, None
        for number, value in protobuf_fields(data):
            if number == 1:
                self.dtype = value
            elif number == 2:
                self.shape = tuple(dict(protobuf_fields(dim)).get(1, 0)
                                   for field, dim in protobuf_fields(value) if field == 2)
            elif number == 3:
                self.shard = value
            elif number == 4:
                self.offset = value
            elif number == 5:
                self.size = value
            elif number == 6:
                self.crc32c = unmasked_crc32c(struct.unpack('<I', value)[0])


class CheckpointReader(object):
    """The variables of the checkpoint at ``prefix``: ``shapes()``, ``read(name)``."""

    def __init__(self, prefix):
        self.prefix = prefix
        index = prefix + '.index'
        try:
            with open(index, 'rb') as f:
                table = f.read()
            self.entries, self.shards = self.parse(table)
        except (OSError, ValueError, IndexError, struct.error):
            raise CheckpointError('no readable TensorFlow checkpoint at %s (expected %s.index and %s.data-*)'
                                  % (prefix, prefix, prefix))

    @staticmethod
    def parse(table):
        if len(table) < FOOTER_SIZE or struct.unpack('<Q', table[-8:])[0] != TABLE_MAGIC:
            raise ValueError('not a table')
        footer = table[-FOOTER_SIZE:]
        _, position = varint(footer, 0)
        _, position = varint(footer, position)  # the metaindex handle, unused
        offset, size = block_handle(footer[position:])
        entries, shards = {}, 1
        for _, handle in block_entries(table[offset:offset + size]):
            start, length = block_handle(handle)
            for key, value in block_entries(table[start:start + length]):
                if key == b'':  # the bundle's header
                    shards = dict(protobuf_fields(value)).get(1, 1)
                else:
                    entries[key.decode('utf-8')] = Entry(value)
        return entries, shards

    def shapes(self):
        """{name: shape} of every variable (lists, as TensorFlow's reader gives them)."""
        return dict((name, list(entry.shape)) for name, entry in self.entries.items())

    def data_path(self, shard):
        return '%s.data-%05d-of-%05d' % (self.prefix, shard, self.shards)

    def data_paths(self):
        return [self.data_path(shard) for shard in range(self.shards)]

    def check_sizes(self):
        """Every variable's bytes lie inside its data file (a truncated or missing file is
        named with the first variable it lacks): checked from the index, nothing read."""
        sizes = {}
        for path in self.data_paths():
            if not os.path.isfile(path):
                raise CheckpointError('checkpoint data file not found: %s (the index %s.index names it)'
                                      % (path, self.prefix))
            sizes[path] = os.path.getsize(path)
        for name, entry in sorted(self.entries.items(), key=lambda item: (item[1].shard, item[1].offset)):
            path = self.data_path(entry.shard)
            if entry.offset + entry.size > sizes[path]:
                raise CheckpointError('checkpoint data %s is truncated: variable %r needs bytes %d-%d, the file '
                                      'has %d' % (path, name, entry.offset, entry.offset + entry.size, sizes[path]))

    def read(self, name):
        entry = self.entries[name]
        if entry.dtype not in DTYPES:
            raise CheckpointError('checkpoint %s: variable %r has TensorFlow dtype %d, which is not read here'
                                  % (self.prefix, name, entry.dtype))
        path = self.data_path(entry.shard)
        try:
            with open(path, 'rb') as f:
                f.seek(entry.offset)
                data = f.read(entry.size)
        except OSError as e:
            raise CheckpointError('cannot read checkpoint data %s: %s' % (path, e.strerror or e))
        dtype = np.dtype(DTYPES[entry.dtype]).newbyteorder('<')
        if len(data) != entry.size or entry.size != dtype.itemsize * int(np.prod(entry.shape, dtype=np.int64)):
            raise CheckpointError('checkpoint data %s is truncated: variable %r needs bytes %d-%d, the file has %d'
                                  % (path, name, entry.offset, entry.offset + entry.size,
                                     os.path.getsize(path)))
        if entry.crc32c is not None:
            crc32c = google_crc32c.value(data)
            if crc32c != entry.crc32c:  # TensorFlow's own words
                raise CheckpointError('checkpoint data %s: variable %r cannot be read (Checksum does not match: '
                                      'stored %d vs. calculated on the restored bytes %d)'
                                      % (path, name, entry.crc32c, crc32c))
        return np.frombuffer(data, dtype).reshape(entry.shape).astype(DTYPES[entry.dtype])


def read_checkpoint_state(model_dir):
    """The prefix a folder's ``checkpoint`` file names (``model_checkpoint_path``), or None."""
    path = os.path.join(model_dir, 'checkpoint')
    if not os.path.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        for line in f:
            key, _, value = line.partition(':')
            if key.strip() == 'model_checkpoint_path':
                named = value.strip().strip('"')
                return named if os.path.isabs(named) else os.path.join(model_dir, named)
    return None


# -- writing ---------------------------------------------------------------------------
def encode_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7f
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def protobuf_field(number, value):
    """One field: an int as a varint, bytes length-delimited."""
    if isinstance(value, int):
        return encode_varint(number << 3) + encode_varint(value)
    return encode_varint(number << 3 | 2) + encode_varint(len(value)) + value


def entry_proto(array, offset, data):
    """A BundleEntryProto: dtype, shape, shard 0, byte range, masked CRC32C."""
    shape = b''.join(protobuf_field(2, protobuf_field(1, int(size))) for size in array.shape)
    return (protobuf_field(1, NUMPY_DTYPES[array.dtype]) + protobuf_field(2, shape) + protobuf_field(4, offset)
            + protobuf_field(5, len(data)) + encode_varint(6 << 3 | 5) + struct.pack('<I', masked_crc32c(data)))


def table_block(entries):
    """A table block of sorted (key, value) pairs, each its own restart point, with its
    trailer (no compression, masked CRC32C of contents and type)."""
    contents, restarts = bytearray(), []
    for key, value in entries:
        restarts.append(len(contents))
        contents += encode_varint(0) + encode_varint(len(key)) + encode_varint(len(value)) + key + value
    contents += b''.join(struct.pack('<I', r) for r in restarts or [0]) + struct.pack('<I', len(restarts or [0]))
    contents += b'\x00'
    return bytes(contents) + struct.pack('<I', masked_crc32c(bytes(contents)))


def write_checkpoint(prefix, variables):
    """A one-shard checkpoint of ``variables`` ({name: array}) at ``prefix``, as TensorFlow's
    Saver writes it (``prefix.index``, ``prefix.data-00000-of-00001``), and the folder's
    ``checkpoint`` file naming it by a relative path (the folder can be moved)."""
    entries, data = [(b'', protobuf_field(1, 1) + protobuf_field(3, protobuf_field(1, BUNDLE_VERSION)))], []
    offset = 0
    for name in sorted(variables, key=lambda n: n.encode('utf-8')):
        array = np.asarray(variables[name])
        if array.dtype not in NUMPY_DTYPES:
            raise ValueError('variable %r: dtype %s is not written here' % (name, array.dtype))
        raw = np.ascontiguousarray(array, array.dtype.newbyteorder('<')).tobytes()
        entries.append((name.encode('utf-8'), entry_proto(array, offset, raw)))
        data.append(raw)
        offset += len(raw)
    block = table_block(entries)
    index_block = table_block([(entries[-1][0], encode_varint(0) + encode_varint(len(block) - BLOCK_TRAILER_SIZE))])
    metaindex_block = table_block([])
    metaindex_at, index_at = len(block), len(block) + len(metaindex_block)
    handles = (encode_varint(metaindex_at) + encode_varint(len(metaindex_block) - BLOCK_TRAILER_SIZE)
               + encode_varint(index_at) + encode_varint(len(index_block) - BLOCK_TRAILER_SIZE))
    footer = handles.ljust(FOOTER_SIZE - 8, b'\x00') + struct.pack('<Q', TABLE_MAGIC)
    with open('%s.data-00000-of-00001' % prefix, 'wb') as f:
        for raw in data:
            f.write(raw)
    with open(prefix + '.index', 'wb') as f:
        f.write(block + metaindex_block + index_block + footer)
    name = os.path.basename(prefix)
    with open(os.path.join(os.path.dirname(os.path.abspath(prefix)), 'checkpoint'), 'w', encoding='utf-8') as f:
        f.write('model_checkpoint_path: "%s"\nall_model_checkpoint_paths: "%s"\n' % (name, name))
