/*
 * entrawatch.readers._jsonscan: scans of JSON text in C, for what DuckDB or Python did slowly.
 *
 * ``columns``: a table's typed columns (and ``_Extra``) from diagnostic records, as the SQL
 * normalize statement computes them (readers/rowscan.py drives it). ``line_records``, ``top_text``
 * and ``newlines``: a JSON-lines block's records, their ``category``, its line count.
 * ``remainders``: a record's ``_Extra`` (the record minus the fields a column took), computed in
 * one pass over its JSON text, byte for byte as DuckDB's ``nullif(json_merge_patch(raw, patch),
 * '{}')`` computes it (below). ``top_level``: a document's top-level keys with their repeats, as
 * DuckDB's ``json_keys`` lists them, without building the document (see its docstring).
 *
 * Why native: the normalize statement (``json_transform`` of ~40-90 paths, each column's type,
 * ``_Extra``) was ~45 % of an ingest's CPU, and staging a block in DuckDB to route it ~30 %;
 * DuckDB's ``json_merge_patch`` alone deep-copies the ~2-4 KB record into a mutable document
 * before patching and writing it. These scans read each record once or twice, copying only what
 * they keep (docs/ingest.md has the figures).
 *
 * Exactness: the output is what DuckDB writes. After a merge patch, what yyjson (DuckDB's JSON
 * library) writes (RFC 7396 as yyjson implements it):
 *   - members the patch does not name are kept, in their order, minified;
 *   - then, in the patch's order, every member whose patch value is an object: the record's first
 *     member of that name merged recursively, or ``{}`` merged when it is missing or not an object;
 *   - strings are unescaped and re-escaped as yyjson writes them (``\"``, ``\\``, ``\b \t \n \f \r``,
 *     other control characters as ``\u00XX`` in upper case, everything else as raw UTF-8);
 *   - integers are copied (yyjson writes the same digits, or the raw text when they overflow), and
 *     so are reals written as DuckDB writes them (``canonical_real``).
 * A column's value is what ``json_transform`` reads (VARCHAR: a string's text, anything else its
 * JSON text; JSON: the JSON text) and then the column type's cast, for the forms this file parses.
 * Whatever a scan cannot promise to write identically is *not* guessed: the row is flagged and the
 * caller computes it with DuckDB. That covers other reals (yyjson writes ``1.50`` as ``1.5``),
 * ``-0``, ``NaN``/``Infinity``, trailing commas, escaped keys, nesting deeper than MAX_DEPTH, any
 * text that is not JSON, times in other forms than ISO 8601. tests/readers/test_remainder.py and
 * test_rowscan.py check the equality against DuckDB.
 *
 * Safety: every read is bounds-checked against the record's end and every write against the
 * output's capacity; the input is attacker-controlled. scripts/fuzz_jsonscan.py runs the scans
 * on mutated input under AddressSanitizer.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256

/* -- the patch: a tree of objects whose leaves are removals (null) ------------------------------ */

typedef struct Node {
    Py_ssize_t count;
    char **keys;
    Py_ssize_t *key_lengths;
    struct Node **children;      /* NULL child: the member is removed (a patch) or has no paths below (a path tree) */
    Py_ssize_t *slot;            /* a path tree: the slot a member's value is captured in, -1 for none */
    const char **first_value;    /* per record: where the first member of that name starts */
    Py_ssize_t *first_member;    /* per record (merge_members): the first member of that name, -1 */
    Py_ssize_t *from_path;       /* a patch linked to a path tree (link_slots): a path key's index here, -1 */
    Py_ssize_t from_path_count;
    Py_ssize_t *slots;           /* open-addressing hash table of key indexes, -1 when empty */
    Py_ssize_t slot_mask;
} Node;

static void node_free(Node *node) {
    if (node == NULL) return;
    for (Py_ssize_t i = 0; i < node->count; i++) {
        PyMem_Free(node->keys[i]);
        node_free(node->children[i]);
    }
    PyMem_Free(node->keys);
    PyMem_Free(node->key_lengths);
    PyMem_Free(node->children);
    PyMem_Free(node->first_value);
    PyMem_Free(node->first_member);
    PyMem_Free(node->from_path);
    PyMem_Free(node->slot);
    PyMem_Free(node->slots);
    PyMem_Free(node);
}

/* A key's hash from its length and its first and last eight bytes: a per-byte hash was a third
 * of the scan (keys are looked up for every member of the record). Collisions only lengthen a probe. */
static uint64_t key_hash(const char *key, Py_ssize_t length) {
    uint64_t head = 0, tail = 0;
    if (length >= 8) {
        memcpy(&head, key, 8);
        memcpy(&tail, key + length - 8, 8);
    } else {
        for (Py_ssize_t i = 0; i < length; i++) head = (head << 8) | (unsigned char)key[i];
    }
    uint64_t hash = (head ^ ((uint64_t)length * 0x9E3779B97F4A7C15ULL)) * 0xFF51AFD7ED558CCDULL;
    hash ^= tail * 0xC4CEB9FE1A85EC53ULL;
    return hash ^ (hash >> 29);
}

static Py_ssize_t node_find(const Node *node, const char *key, Py_ssize_t length) {
    Py_ssize_t slot = (Py_ssize_t)(key_hash(key, length) & (uint64_t)node->slot_mask);
    for (;;) {
        Py_ssize_t index = node->slots[slot];
        if (index < 0) return -1;
        if (node->key_lengths[index] == length && memcmp(node->keys[index], key, (size_t)length) == 0) {
            return index;
        }
        slot = (slot + 1) & node->slot_mask;
    }
}

/* Build a node from a patch dict ({key: None | dict}) or, with ``slots`` > 0, from a path tree
 * ({key: (slot, dict | None)}, slots below ``slots``); raises and returns NULL on anything else. */
static Node *node_from_dict(PyObject *dict, int depth, Py_ssize_t slots) {
    if (!PyDict_Check(dict)) {
        PyErr_SetString(PyExc_TypeError, "a patch is a dict of None or dicts");
        return NULL;
    }
    if (depth > MAX_DEPTH) {
        PyErr_SetString(PyExc_ValueError, "patch nested too deeply");
        return NULL;
    }
    Node *node = PyMem_Calloc(1, sizeof(Node));
    if (node == NULL) return (Node *)PyErr_NoMemory();
    Py_ssize_t count = PyDict_Size(dict);
    Py_ssize_t table = 8;
    while (table < 2 * count + 2) table *= 2;
    node->keys = PyMem_Calloc((size_t)(count + 1), sizeof(char *));
    node->key_lengths = PyMem_Calloc((size_t)(count + 1), sizeof(Py_ssize_t));
    node->children = PyMem_Calloc((size_t)(count + 1), sizeof(Node *));
    node->first_value = PyMem_Calloc((size_t)(count + 1), sizeof(char *));
    node->slot = PyMem_Calloc((size_t)(count + 1), sizeof(Py_ssize_t));
    node->first_member = PyMem_Calloc((size_t)(count + 1), sizeof(Py_ssize_t));
    node->slots = PyMem_Malloc((size_t)table * sizeof(Py_ssize_t));
    if (!node->keys || !node->key_lengths || !node->children || !node->first_value || !node->slot
        || !node->first_member || !node->slots) {
        node_free(node);
        return (Node *)PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < table; i++) node->slots[i] = -1;
    node->slot_mask = table - 1;

    PyObject *key, *value;
    Py_ssize_t position = 0;
    while (PyDict_Next(dict, &position, &key, &value)) {
        Py_ssize_t length;
        const char *text = PyUnicode_Check(key) ? PyUnicode_AsUTF8AndSize(key, &length) : NULL;
        if (text == NULL) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "patch keys are str");
            node_free(node);
            return NULL;
        }
        for (Py_ssize_t i = 0; i < length; i++) {
            unsigned char c = (unsigned char)text[i];
            if (c < 0x20 || c == '"' || c == '\\') {
                /* written as is below, so it must need no escape */
                PyErr_SetString(PyExc_ValueError, "patch keys may not need JSON escapes");
                node_free(node);
                return NULL;
            }
        }
        Py_ssize_t index = node->count;
        node->keys[index] = PyMem_Malloc((size_t)length + 1);
        if (node->keys[index] == NULL) {
            node_free(node);
            return (Node *)PyErr_NoMemory();
        }
        memcpy(node->keys[index], text, (size_t)length);
        node->key_lengths[index] = length;
        node->count++;
        node->slot[index] = -1;
        if (slots > 0) {
            /* a path tree: (slot, children) */
            if (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 2) {
                PyErr_SetString(PyExc_TypeError, "a path tree maps keys to (slot, dict | None)");
                node_free(node);
                return NULL;
            }
            Py_ssize_t slot = PyLong_AsSsize_t(PyTuple_GET_ITEM(value, 0));
            if (slot == -1 && PyErr_Occurred()) {
                node_free(node);
                return NULL;
            }
            if (slot < -1 || slot >= slots) {
                PyErr_SetString(PyExc_ValueError, "a slot outside the slots");
                node_free(node);
                return NULL;
            }
            node->slot[index] = slot;
            value = PyTuple_GET_ITEM(value, 1);
        }
        if (value != Py_None) {
            node->children[index] = node_from_dict(value, depth + 1, slots);
            if (node->children[index] == NULL) {
                node_free(node);
                return NULL;
            }
        }
        Py_ssize_t slot = (Py_ssize_t)(key_hash(text, length) & (uint64_t)node->slot_mask);
        while (node->slots[slot] >= 0) slot = (slot + 1) & node->slot_mask;
        node->slots[slot] = index;
    }
    return node;
}

/* What a patch can add to a record: its objects written empty (``"key":{...}`` and a comma each). */
static Py_ssize_t skeleton_bytes(const Node *node) {
    Py_ssize_t total = 2;
    for (Py_ssize_t i = 0; i < node->count; i++) {
        if (node->children[i] != NULL) total += node->key_lengths[i] + 4 + skeleton_bytes(node->children[i]);
    }
    return total;
}

/* -- memory handed to Python without a copy ----------------------------------------------------- */

/* A block of PyMem_Raw memory that Python (and Arrow, through ``pa.py_buffer``) reads through the
 * buffer protocol, freed with the last reference. The scans build their outputs in growing raw
 * buffers; copying each into a ``bytes`` at the end was ~10 % of ``columns`` (its memmove and the
 * page faults of the copy). */
typedef struct {
    PyObject_HEAD
    char *data;
    Py_ssize_t length;
} Buffer;

static void buffer_dealloc(Buffer *self) {
    PyMem_RawFree(self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int buffer_get(Buffer *self, Py_buffer *view, int flags) {
    return PyBuffer_FillInfo(view, (PyObject *)self, self->data, self->length, 1, flags);
}

static Py_ssize_t buffer_length(Buffer *self) {
    return self->length;
}

static PyBufferProcs buffer_procs = {.bf_getbuffer = (getbufferproc)buffer_get};
static PySequenceMethods buffer_sequence = {.sq_length = (lenfunc)buffer_length};

static PyTypeObject BufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "entrawatch.readers._jsonscan.Buffer",
    .tp_basicsize = sizeof(Buffer),
    .tp_dealloc = (destructor)buffer_dealloc,
    .tp_as_buffer = &buffer_procs,
    .tp_as_sequence = &buffer_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Read-only bytes a scan wrote, shared with Python without a copy.",
};

/* ``data`` (PyMem_RawMalloc'd, ``length`` bytes used) as a Buffer, which now owns it; NULL (and
 * ``data`` freed) on failure. */
static PyObject *buffer_of(void *data, Py_ssize_t length) {
    Buffer *buffer = PyObject_New(Buffer, &BufferType);
    if (buffer == NULL) {
        PyMem_RawFree(data);
        return NULL;
    }
    buffer->data = data;
    buffer->length = length;
    return (PyObject *)buffer;
}

/* -- the scanner ---------------------------------------------------------------------------------- */

/* Where a captured value lies in a record (see ``columns``). */
typedef struct {
    const char *begin;  /* NULL: missing */
    const char *end;
    int canonical;      /* the text is what DuckDB writes for it: copied as is (see Scan.rewrites) */
} Span;

typedef struct {
    const char *at;
    const char *end;
    char *out;          /* next byte to write */
    char *out_end;      /* capacity */
    int emit;           /* 0 while skipping a removed value */
    int unsure;         /* set when the row must be computed by DuckDB */
    int depth;
    int raw_text;       /* a string is written as its text (unquoted, unescaped), not as JSON */
    const Span *spans;  /* values a pass over the same record already checked (merge_object skips them) */
    Py_ssize_t rewrites; /* what writing would change, seen so far: whitespace, an escape, a real rewritten */
} Scan;

static int give_up(Scan *s) {
    s->unsure = 1;
    return 0;
}

static int put(Scan *s, const char *bytes, size_t length) {
    if (!s->emit) return 1;
    if ((size_t)(s->out_end - s->out) < length) return give_up(s);
    memcpy(s->out, bytes, length);
    s->out += length;
    return 1;
}

static int put_char(Scan *s, char c) {
    if (!s->emit) return 1;
    if (s->out >= s->out_end) return give_up(s);
    *s->out++ = c;
    return 1;
}

static void skip_space(Scan *s) {
    const char *from = s->at;
    while (s->at < s->end && (*s->at == ' ' || *s->at == '\n' || *s->at == '\r' || *s->at == '\t')) s->at++;
    s->rewrites += s->at != from;
}

static int hex4(const char *p, uint32_t *value) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return 0;
    }
    *value = v;
    return 1;
}

/* One code point as yyjson writes it inside a string. */
static int put_code_point(Scan *s, uint32_t cp) {
    static const char upper_hex[] = "0123456789ABCDEF";
    char buffer[6];
    if (s->raw_text && cp < 0x80) {
        /* DuckDB's VARCHAR holds the text itself; a NUL is left to DuckDB */
        return cp == 0 ? give_up(s) : put_char(s, (char)cp);
    }
    switch (cp) {
        case '"': return put(s, "\\\"", 2);
        case '\\': return put(s, "\\\\", 2);
        case '\b': return put(s, "\\b", 2);
        case '\t': return put(s, "\\t", 2);
        case '\n': return put(s, "\\n", 2);
        case '\f': return put(s, "\\f", 2);
        case '\r': return put(s, "\\r", 2);
        default: break;
    }
    if (cp < 0x20) {
        buffer[0] = '\\'; buffer[1] = 'u'; buffer[2] = '0'; buffer[3] = '0';
        buffer[4] = upper_hex[cp >> 4]; buffer[5] = upper_hex[cp & 15];
        return put(s, buffer, 6);
    }
    if (cp < 0x80) return put_char(s, (char)cp);
    if (cp < 0x800) {
        buffer[0] = (char)(0xC0 | (cp >> 6)); buffer[1] = (char)(0x80 | (cp & 0x3F));
        return put(s, buffer, 2);
    }
    if (cp < 0x10000) {
        buffer[0] = (char)(0xE0 | (cp >> 12)); buffer[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buffer[2] = (char)(0x80 | (cp & 0x3F));
        return put(s, buffer, 3);
    }
    buffer[0] = (char)(0xF0 | (cp >> 18)); buffer[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    buffer[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); buffer[3] = (char)(0x80 | (cp & 0x3F));
    return put(s, buffer, 4);
}

/* Bytes of a string that need no attention (not ``"``, ``\\`` or a control character), one at a
 * time: the tail that :func:`plain_run` leaves. */
static const char *plain_bytes(const char *at, const char *end) {
    while (at < end) {
        unsigned char c = (unsigned char)*at;
        if (c == '"' || c == '\\' || c < 0x20) break;
        at++;
    }
    return at;
}

/* The same, fast: most of a record is string bodies, so they are tested 16 bytes at a time with
 * SSE2 (every x86-64 has it), else 8 at a time in a 64-bit word, and the tail by plain_bytes. */
#if defined(__SSE2__)
#include <emmintrin.h>
static const char *plain_run(const char *at, const char *end) {
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), control = _mm_set1_epi8(0x1F);
    while (end - at >= 16) {
        __m128i bytes = _mm_loadu_si128((const __m128i *)at);
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)),
                                   _mm_cmpeq_epi8(_mm_min_epu8(bytes, control), bytes));  /* bytes <= 0x1F */
        int mask = _mm_movemask_epi8(hit);
        if (mask) return at + __builtin_ctz((unsigned)mask);
        at += 16;
    }
    return plain_bytes(at, end);
}
#else
static const char *plain_run(const char *at, const char *end) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (end - at >= 8) {
        uint64_t word;
        memcpy(&word, at, 8);
        uint64_t quote = word ^ (ones * '"'), backslash = word ^ (ones * '\\');
        uint64_t hit = (((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) | ((word - ones * 0x20) & ~word))
                       & highs;
        if (hit) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            /* The lowest flagged byte is exact (a borrow only flags bytes above a real hit). */
            return at + (__builtin_ctzll(hit) >> 3);
#else
            break;
#endif
        }
        at += 8;
    }
    return plain_bytes(at, end);
}
#endif

/* A string at s->at (its opening quote), written canonically. */
static int scan_string(Scan *s) {
    s->at++;
    if (!s->raw_text && !put_char(s, '"')) return 0;
    for (;;) {
        const char *run = s->at;
        s->at = plain_run(s->at, s->end);
        if (!put(s, run, (size_t)(s->at - run))) return 0;
        if (s->at >= s->end) return give_up(s);
        char c = *s->at;
        if (c == '"') {
            s->at++;
            return s->raw_text || put_char(s, '"');
        }
        if (c != '\\' || s->end - s->at < 2) return give_up(s);  /* a raw control character, or a cut escape */
        s->rewrites++;  /* yyjson may write an escape otherwise (\/ as /, \u00e9 as é) */
        char e = s->at[1];
        s->at += 2;
        uint32_t cp;
        switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (s->end - s->at < 4 || !hex4(s->at, &cp)) return give_up(s);
                s->at += 4;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return give_up(s);
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t low;
                    if (s->end - s->at < 6 || s->at[0] != '\\' || s->at[1] != 'u' || !hex4(s->at + 2, &low)
                        || low < 0xDC00 || low > 0xDFFF) {
                        return give_up(s);
                    }
                    s->at += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                }
                break;
            default:
                return give_up(s);
        }
        if (!put_code_point(s, cp)) return 0;
    }
}

/* Whether a decimal of 16 or 17 significant digits is the one a shortest-digits writer gives for
 * its double: no decimal of one digit fewer names that double (then none shorter does either: the
 * nearest of them would), and it is the nearest of its length (printf rounds exactly). Real data
 * has these: a float widened to a double (``40.643959045410156``). */
static int shortest_digits(const char *start, const char *end, Py_ssize_t significant) {
    char text[64], formatted[64];
    Py_ssize_t length = end - start;
    if (length >= (Py_ssize_t)sizeof(text)) return 0;
    memcpy(text, start, (size_t)length);
    text[length] = '\0';
    double value = strtod(text, NULL);
    snprintf(formatted, sizeof(formatted), "%.*e", (int)significant - 2, value);
    if (strtod(formatted, NULL) == value) return 0;
    snprintf(formatted, sizeof(formatted), "%.*e", (int)significant - 1, value);
    /* the digits of both, without sign, point, leading zeros or exponent */
    const char *a = text, *b = formatted;
    Py_ssize_t matched = 0;
    while (*a == '-' || *a == '0' || *a == '.') a++;
    if (*b == '-') b++;
    while (matched < significant) {
        if (*a == '.') a++;
        if (*b == '.') b++;
        if (*a != *b) return 0;
        a++, b++, matched++;
    }
    return 1;
}

/* Whether DuckDB writes a real exactly as ``[start, end)`` spells it, both as JSON (yyjson) and as
 * VARCHAR (DuckDB's double to text): the shortest digits that round-trip, in fixed notation, ``.0``
 * on an integral value. That holds for a plain decimal below 1e15, not below 0.001 (``0.00001``
 * is ``1e-05`` as VARCHAR), whose fraction is ``0`` or ends in a non-zero digit, of at most 15
 * significant digits (two such decimals are never the same double, so none shorter names it), or
 * of 16-17 that are the shortest for their double (shortest_digits).
 * tests/readers/test_rowscan.py checks the rule against DuckDB. */
static int canonical_real(const char *start, const char *end) {
    const char *at = start;
    if (at < end && *at == '-') at++;
    const char *whole = at;
    while (at < end && *at >= '0' && *at <= '9') at++;
    Py_ssize_t whole_digits = at - whole;
    if (at >= end || *at != '.' || whole_digits == 0 || whole_digits > 15) return 0;
    const char *fraction = ++at;
    Py_ssize_t fraction_digits = end - fraction;
    if (fraction_digits == 0) return 0;
    for (const char *p = fraction; p < end; p++) {
        if (*p < '0' || *p > '9') return 0;  /* an exponent */
    }
    Py_ssize_t significant = whole_digits + fraction_digits;
    if (fraction_digits == 1 && *fraction == '0') return 1;  /* an integral value below 1e15: N.0 (and 0.0, -0.0) */
    if (whole_digits == 1 && *whole == '0') {
        Py_ssize_t zeros = 0;
        while (zeros < fraction_digits && fraction[zeros] == '0') zeros++;
        if (zeros == fraction_digits || zeros > 2) return 0;  /* 0.00, below 0.001 */
        significant = fraction_digits - zeros;
    }
    if (end[-1] == '0' || significant > 17) return 0;
    if (significant <= 15) return 1;
    return shortest_digits(start, end, significant);
}

/* An integer is copied, and a real that DuckDB writes as spelled (canonical_real). Any other
 * real, or ``-0``, is checked when skipped, but one that would be written is left to DuckDB:
 * yyjson rewrites them (``1.50`` as ``1.5``, ``1e2`` as ``100.0``, ``-0`` as ``0``). */
static int scan_number(Scan *s) {
    const char *start = s->at;
    if (s->at < s->end && *s->at == '-') s->at++;
    const char *digits = s->at;
    while (s->at < s->end && *s->at >= '0' && *s->at <= '9') s->at++;
    Py_ssize_t count = s->at - digits;
    if (count == 0 || (count > 1 && *digits == '0')) return give_up(s);
    int plain = !(start != digits && count == 1 && *digits == '0');
    int real = 0;
    if (s->at < s->end && *s->at == '.') {
        real = 1;
        const char *fraction = ++s->at;
        while (s->at < s->end && *s->at >= '0' && *s->at <= '9') s->at++;
        if (s->at == fraction) return give_up(s);
    }
    if (s->at < s->end && (*s->at == 'e' || *s->at == 'E')) {
        real = 1;
        s->at++;
        if (s->at < s->end && (*s->at == '+' || *s->at == '-')) s->at++;
        const char *exponent = s->at;
        while (s->at < s->end && *s->at >= '0' && *s->at <= '9') s->at++;
        if (s->at == exponent) return give_up(s);
    }
    if (real) plain = canonical_real(start, s->at);
    s->rewrites += !plain;
    if (!plain && s->emit) return give_up(s);
    return put(s, start, (size_t)(s->at - start));
}

static int scan_literal(Scan *s, const char *word, size_t length) {
    if ((size_t)(s->end - s->at) < length || memcmp(s->at, word, length) != 0) return give_up(s);
    s->at += length;
    return put(s, word, length);
}

static int scan_value(Scan *s);

/* A container's members or items, minified; ``object`` says which. */
static int scan_container(Scan *s, int object) {
    char close = object ? '}' : ']';
    if (++s->depth > MAX_DEPTH) return give_up(s);
    s->at++;
    if (!put_char(s, object ? '{' : '[')) return 0;
    skip_space(s);
    if (s->at < s->end && *s->at == close) {
        s->at++;
        s->depth--;
        return put_char(s, close);
    }
    for (;;) {
        skip_space(s);
        if (object) {
            if (s->at >= s->end || *s->at != '"' || !scan_string(s)) return give_up(s);
            skip_space(s);
            if (s->at >= s->end || *s->at != ':') return give_up(s);
            s->at++;
            if (!put_char(s, ':')) return 0;
            skip_space(s);
        }
        if (!scan_value(s)) return 0;
        skip_space(s);
        if (s->at >= s->end) return give_up(s);
        if (*s->at == ',') {
            s->at++;
            if (!put_char(s, ',')) return 0;
            continue;  /* a trailing comma fails on the next member */
        }
        if (*s->at != close) return give_up(s);
        s->at++;
        s->depth--;
        return put_char(s, close);
    }
}

static int scan_value(Scan *s) {
    if (s->at >= s->end) return give_up(s);
    switch (*s->at) {
        case '{': return scan_container(s, 1);
        case '[': return scan_container(s, 0);
        case '"': return scan_string(s);
        case 't': return scan_literal(s, "true", 4);
        case 'f': return scan_literal(s, "false", 5);
        case 'n': return scan_literal(s, "null", 4);
        default:
            if (*s->at == '-' || (*s->at >= '0' && *s->at <= '9')) return scan_number(s);
            return give_up(s);
    }
}

/* A value skipped: checked like a written one, but nothing is written. */
static int skip_value(Scan *s) {
    int emit = s->emit;
    s->emit = 0;
    int ok = scan_value(s);
    s->emit = emit;
    return ok;
}

static int put_key(Scan *s, const char *key, Py_ssize_t length, int *first) {
    if (!*first && !put_char(s, ',')) return 0;
    *first = 0;
    return put_char(s, '"') && put(s, key, (size_t)length) && put(s, "\":", 2);
}

/* A member's key and its colon, from s->at (before the key's opening quote) to its value. A key
 * with an escape gives up: yyjson compares and lists keys unescaped, and this scan does not. */
static int plain_key(Scan *s, const char **key, Py_ssize_t *length) {
    skip_space(s);
    if (s->at >= s->end || *s->at != '"') return give_up(s);
    *key = ++s->at;
    s->at = plain_run(s->at, s->end);
    if (s->at >= s->end || *s->at != '"') return give_up(s);
    *length = s->at - *key;
    s->at++;
    skip_space(s);
    if (s->at >= s->end || *s->at != ':') return give_up(s);
    s->at++;
    skip_space(s);
    return 1;
}

/* The patch applied to an empty object: its object members, recursively, and nothing else. */
static int put_empty_merge(Scan *s, const Node *node) {
    int first = 1;
    if (!put_char(s, '{')) return 0;
    for (Py_ssize_t i = 0; i < node->count; i++) {
        if (node->children[i] == NULL) continue;
        if (!put_key(s, node->keys[i], node->key_lengths[i], &first) || !put_empty_merge(s, node->children[i])) return 0;
    }
    return put_char(s, '}');
}

/* A removed member's value: jumped over when the capture pass of ``columns`` checked that very
 * value (its first occurrence: the patch's slot names it), else checked while skipped. Most of a
 * record is removed values, so ``columns`` cuts ``_Extra`` for a fraction of a second scan. */
static int skip_removed(Scan *s, const Node *node, Py_ssize_t index) {
    if (s->spans != NULL && node->slot[index] >= 0 && s->spans[node->slot[index]].begin == s->at) {
        s->at = s->spans[node->slot[index]].end;
        return 1;
    }
    return skip_value(s);
}

/* The object at s->at merged with ``node`` (see the header for yyjson's order). */
static int merge_object(Scan *s, Node *node) {
    if (++s->depth > MAX_DEPTH) return give_up(s);
    for (Py_ssize_t i = 0; i < node->count; i++) node->first_value[i] = NULL;
    int first = 1;
    s->at++;
    if (!put_char(s, '{')) return 0;
    skip_space(s);
    if (s->at < s->end && *s->at == '}') {
        s->at++;
    } else {
        for (;;) {
            const char *key;
            Py_ssize_t length;
            if (!plain_key(s, &key, &length)) return 0;
            Py_ssize_t index = node_find(node, key, length);
            if (index < 0) {
                if (!put_key(s, key, length, &first) || !scan_value(s)) return 0;
            } else {
                if (node->first_value[index] == NULL) node->first_value[index] = s->at;
                if (!skip_removed(s, node, index)) return 0;
            }
            skip_space(s);
            if (s->at >= s->end) return give_up(s);
            if (*s->at == ',') {
                s->at++;
                continue;
            }
            if (*s->at != '}') return give_up(s);
            s->at++;
            break;
        }
    }
    const char *after = s->at;
    for (Py_ssize_t i = 0; i < node->count; i++) {
        Node *child = node->children[i];
        if (child == NULL) continue;
        if (!put_key(s, node->keys[i], node->key_lengths[i], &first)) return 0;
        const char *value = node->first_value[i];
        if (value != NULL && *value == '{') {
            s->at = value;
            if (!merge_object(s, child)) return 0;
        } else if (!put_empty_merge(s, child)) {
            return 0;
        }
    }
    s->at = after;
    s->depth--;
    return put_char(s, '}');
}

/* -- the Python function -------------------------------------------------------------------------- */

typedef struct {
    Py_buffer offsets, data, selectors, rows;
    int have_selectors, have_rows;
} Inputs;

static void inputs_release(Inputs *in) {
    if (in->offsets.obj) PyBuffer_Release(&in->offsets);
    if (in->data.obj) PyBuffer_Release(&in->data);
    if (in->have_selectors && in->selectors.obj) PyBuffer_Release(&in->selectors);
    if (in->have_rows && in->rows.obj) PyBuffer_Release(&in->rows);
}

/* The ``index``-th Arrow offset, 32 or 64 bits wide. */
static int64_t offset_at(const void *offsets, int width, Py_ssize_t index) {
    return width == 4 ? ((const int32_t *)offsets)[index] : ((const int64_t *)offsets)[index];
}

/* The record the ``row``-th output row reads: the row itself, or the row-th of ``rows``. */
static Py_ssize_t record_of(const Inputs *in, Py_ssize_t row) {
    return in->have_rows ? (Py_ssize_t)((const int64_t *)in->rows.buf)[row] : row;
}

/* The text arguments every scan takes, checked once: an Arrow string array's ``offsets`` (``width``
 * bytes each) and ``data``, ``count`` records from ``start``; ``selectors`` (one byte per row) and
 * ``rows`` (int64 record numbers the output reads, in that order; ``count`` becomes their number)
 * are NULL or Py_None when absent. Every row's bounds are read here, so a row outside the data
 * buffer is an error, not a crash; ``*input_bytes`` and ``*longest`` (either may be NULL) get the
 * rows' total and largest length. Raises, releases what it took and returns 0 otherwise. */
static int inputs_open(Inputs *in, PyObject *offsets, PyObject *data, PyObject *selectors, PyObject *rows, int width,
                       Py_ssize_t start, Py_ssize_t *count, Py_ssize_t *input_bytes, Py_ssize_t *longest) {
    *in = (Inputs){0};
    if (width != 4 && width != 8) {
        PyErr_SetString(PyExc_ValueError, "offset_width is 4 or 8");
        return 0;
    }
    if (start < 0 || *count < 0 || start > PY_SSIZE_T_MAX / 32 || *count > PY_SSIZE_T_MAX / 32) {
        PyErr_SetString(PyExc_ValueError, "start and count are row numbers: not negative, not absurd");
        return 0;
    }
    in->have_selectors = selectors != NULL && selectors != Py_None;
    in->have_rows = rows != NULL && rows != Py_None;
    if (PyObject_GetBuffer(offsets, &in->offsets, PyBUF_SIMPLE) < 0
        || PyObject_GetBuffer(data, &in->data, PyBUF_SIMPLE) < 0
        || (in->have_selectors && PyObject_GetBuffer(selectors, &in->selectors, PyBUF_SIMPLE) < 0)
        || (in->have_rows && PyObject_GetBuffer(rows, &in->rows, PyBUF_SIMPLE) < 0)) {
        goto fail;
    }
    if (in->offsets.len < (start + *count + 1) * width) {
        PyErr_SetString(PyExc_ValueError, "buffers shorter than start + count rows");
        goto fail;
    }
    if (in->have_rows) {
        if (in->rows.len % 8 != 0) {
            PyErr_SetString(PyExc_ValueError, "rows is a buffer of int64");
            goto fail;
        }
        Py_ssize_t listed = in->rows.len / 8;
        for (Py_ssize_t i = 0; i < listed; i++) {
            int64_t record = ((const int64_t *)in->rows.buf)[i];
            if (record < 0 || record >= *count) {
                PyErr_Format(PyExc_ValueError, "rows[%zd] names no record", i);
                goto fail;
            }
        }
        *count = listed;
    }
    if (in->have_selectors && in->selectors.len < *count) {
        PyErr_SetString(PyExc_ValueError, "fewer selectors than rows");
        goto fail;
    }
    Py_ssize_t total = 0, widest = 0;
    for (Py_ssize_t row = 0; row < *count; row++) {
        int64_t begin = offset_at(in->offsets.buf, width, start + record_of(in, row));
        int64_t end = offset_at(in->offsets.buf, width, start + record_of(in, row) + 1);
        if (begin < 0 || end < begin || end > in->data.len) {
            PyErr_Format(PyExc_ValueError, "row %zd: offsets outside the data buffer", row);
            goto fail;
        }
        total += (Py_ssize_t)(end - begin);
        if (end - begin > widest) widest = (Py_ssize_t)(end - begin);
    }
    if (input_bytes != NULL) *input_bytes = total;
    if (longest != NULL) *longest = widest;
    return 1;

fail:
    inputs_release(in);
    return 0;
}

PyDoc_STRVAR(remainders_doc,
"remainders(offsets, data, offset_width, start, count, selectors, patches)\n"
"--\n\n"
"``_Extra`` of ``count`` records of an Arrow string array (its offsets and data buffers, the\n"
"offsets' width in bytes, 4 or 8, and the array's offset ``start``). ``patches`` is a list of\n"
"patch dicts ({key: None | dict}); ``selectors`` (a buffer of one unsigned byte per row, its\n"
"first byte for the first row) picks each row's patch, or None for patch 0. Returns (validity bitmap, int32 offsets,\n"
"data, unsure): a row is null when its result is ``{}`` or when it is unsure (a byte of 1 in\n"
"``unsure``), and unsure rows must be computed by DuckDB.");

static PyObject *remainders(PyObject *self, PyObject *args) {
    PyObject *offsets_object, *data_object, *selectors_object, *patch_list;
    int width;
    Py_ssize_t start, count;
    if (!PyArg_ParseTuple(args, "OOinnOO!", &offsets_object, &data_object, &width, &start, &count,
                          &selectors_object, &PyList_Type, &patch_list)) {
        return NULL;
    }
    Py_ssize_t patch_count = PyList_GET_SIZE(patch_list);
    if (patch_count < 1 || patch_count > 256) {
        PyErr_SetString(PyExc_ValueError, "between 1 and 256 patches");
        return NULL;
    }
    Inputs in;
    Py_ssize_t input_bytes;
    if (!inputs_open(&in, offsets_object, data_object, selectors_object, NULL, width, start, &count, &input_bytes,
                     NULL)) {
        return NULL;
    }
    const char *data = in.data.buf;
    const unsigned char *selectors = in.have_selectors ? in.selectors.buf : NULL;

    Node **patches = PyMem_Calloc((size_t)patch_count, sizeof(Node *));
    Py_ssize_t widest_patch = 0;
    PyObject *result = NULL, *validity = NULL, *out_offsets = NULL, *out_data = NULL, *unsure = NULL;
    if (patches == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < patch_count; i++) {
        patches[i] = node_from_dict(PyList_GET_ITEM(patch_list, i), 0, 0);
        if (patches[i] == NULL) goto done;
        Py_ssize_t length = skeleton_bytes(patches[i]);
        if (length > widest_patch) widest_patch = length;
    }

    for (Py_ssize_t row = 0; selectors != NULL && row < count; row++) {
        if (selectors[row] >= patch_count) {
            PyErr_Format(PyExc_ValueError, "row %zd: selector %d names no patch", row, selectors[row]);
            goto done;
        }
    }
    /* A row's output is at most its input (minified, escapes never grow) plus the patch's skeleton;
     * put() still checks every write against the capacity. */
    Py_ssize_t capacity = input_bytes + count * (widest_patch + 2) + 16;
    if (capacity > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too much text for 32-bit offsets: pass fewer rows");
        goto done;
    }
    validity = PyBytes_FromStringAndSize(NULL, (count + 7) / 8);
    out_offsets = PyBytes_FromStringAndSize(NULL, (count + 1) * 4);
    out_data = PyBytes_FromStringAndSize(NULL, capacity);
    unsure = PyBytes_FromStringAndSize(NULL, count);
    if (!validity || !out_offsets || !out_data || !unsure) goto done;
    unsigned char *valid_bits = (unsigned char *)PyBytes_AS_STRING(validity);
    int32_t *offsets_out = (int32_t *)PyBytes_AS_STRING(out_offsets);
    char *base = PyBytes_AS_STRING(out_data);
    unsigned char *unsure_rows = (unsigned char *)PyBytes_AS_STRING(unsure);
    memset(valid_bits, 0, (size_t)((count + 7) / 8));
    Py_ssize_t written = 0;

    Py_BEGIN_ALLOW_THREADS
    char *cursor = base;
    offsets_out[0] = 0;
    for (Py_ssize_t row = 0; row < count; row++) {
        int64_t begin = offset_at(in.offsets.buf, width, start + record_of(&in, row));
        int64_t end = offset_at(in.offsets.buf, width, start + record_of(&in, row) + 1);
        Scan s = {.at = data + begin, .end = data + end, .out = cursor, .out_end = base + capacity, .emit = 1};
        skip_space(&s);
        int ok = s.at < s.end && *s.at == '{'
                 && merge_object(&s, patches[selectors != NULL ? selectors[row] : 0]);
        if (ok) {
            skip_space(&s);
            ok = s.at == s.end && !s.unsure;
        }
        unsure_rows[row] = (unsigned char)!ok;
        if (ok && !(s.out - cursor == 2 && cursor[0] == '{' && cursor[1] == '}')) {
            valid_bits[row >> 3] |= (unsigned char)(1u << (row & 7));
            cursor = s.out;
        }
        offsets_out[row + 1] = (int32_t)(cursor - base);
    }
    written = cursor - base;
    Py_END_ALLOW_THREADS

    if (_PyBytes_Resize(&out_data, written) < 0) goto done;
    result = Py_BuildValue("(OOOO)", validity, out_offsets, out_data, unsure);

done:
    Py_XDECREF(validity);
    Py_XDECREF(out_offsets);
    Py_XDECREF(out_data);
    Py_XDECREF(unsure);
    if (patches != NULL) {
        for (Py_ssize_t i = 0; i < patch_count; i++) node_free(patches[i]);
        PyMem_Free(patches);
    }
    inputs_release(&in);
    return result;
}

/* -- a record's columns ------------------------------------------------------------------------
 *
 * ``columns``: the typed columns of a table, from the records' text, as DuckDB's normalize
 * statement computes them (readers/sqlgen.py): each source path's first occurrence, read as
 * ``json_transform`` reads it (case-sensitive keys, the first of repeated keys, a non-object where
 * an object is expected leaves its paths missing); a column takes its first non-null source; then
 * the column's type. A row is *unsure* whenever this scan cannot promise DuckDB's value, or the
 * value would send the row to quarantine (a missing id or time, text a type refuses): DuckDB
 * computes those rows. readers/rowscan.py drives it; tests/readers/test_rowscan.py compares the two. */

enum { KIND_TEXT, KIND_DYNAMIC, KIND_DATETIME, KIND_LONG, KIND_INT, KIND_BOOL, KIND_COUNT };

/* The members of the objects a capture walked (a path tree's objects), in their order: what
 * ``_Extra`` keeps is written from them without reading their keys again (merge_members). */
typedef struct {
    const char *key, *begin, *end;  /* the key (plain: no escape) and the value's text */
    Py_ssize_t key_length;
    Py_ssize_t path_index;          /* the key's index in the path node, -1 */
    Py_ssize_t child;               /* the object captured from this value, -1 */
    Py_ssize_t next;                /* the next member of the same object, -1 */
    int canonical;                  /* the value's text is what yyjson writes (Span.canonical) */
} MemberRec;

typedef struct {
    MemberRec *members;
    Py_ssize_t count, capacity;
    Py_ssize_t *heads;              /* per object: its first member, -1 when empty */
    Py_ssize_t object_count, object_capacity;
} Members;

static int members_grow(void **items, Py_ssize_t *capacity, Py_ssize_t needed, size_t size) {
    if (needed <= *capacity) return 1;
    Py_ssize_t grown = *capacity ? *capacity * 2 : 256;
    while (grown < needed) grown *= 2;
    void *more = PyMem_RawRealloc(*items, (size_t)grown * size);
    if (more == NULL) return 0;
    *items = more;
    *capacity = grown;
    return 1;
}

/* The object at s->at: every path of ``node`` captured in ``spans`` (first occurrence), the rest
 * checked and skipped; with ``list``, its members recorded as object ``*object``. */
static int capture_object(Scan *s, Node *node, Span *spans, Members *list, Py_ssize_t *object) {
    if (++s->depth > MAX_DEPTH) return give_up(s);
    for (Py_ssize_t i = 0; i < node->count; i++) node->first_value[i] = NULL;
    Py_ssize_t last = -1;
    if (list != NULL) {
        if (!members_grow((void **)&list->heads, &list->object_capacity, list->object_count + 1, sizeof(Py_ssize_t))) {
            return give_up(s);
        }
        *object = list->object_count++;
        list->heads[*object] = -1;
    }
    s->at++;
    skip_space(s);
    if (s->at < s->end && *s->at == '}') {
        s->at++;
        s->depth--;
        return 1;
    }
    for (;;) {
        const char *key;
        Py_ssize_t length, child = -1;
        if (!plain_key(s, &key, &length)) return 0;
        Py_ssize_t index = node_find(node, key, length);
        const char *begin = s->at;
        Py_ssize_t rewrites = s->rewrites;
        if (index < 0 || node->first_value[index] != NULL) {
            if (!skip_value(s)) return 0;
        } else {
            node->first_value[index] = begin;
            if (node->children[index] != NULL && s->at < s->end && *s->at == '{') {
                if (!capture_object(s, node->children[index], spans, list, &child)) return 0;
            } else if (!skip_value(s)) {
                return 0;
            }
            if (node->slot[index] >= 0) {
                spans[node->slot[index]].begin = begin;
                spans[node->slot[index]].end = s->at;
                spans[node->slot[index]].canonical = s->rewrites == rewrites;
            }
        }
        if (list != NULL) {
            if (!members_grow((void **)&list->members, &list->capacity, list->count + 1, sizeof(MemberRec))) {
                return give_up(s);
            }
            Py_ssize_t k = list->count++;
            list->members[k] = (MemberRec){key, begin, s->at, length, index, child, -1, s->rewrites == rewrites};
            if (last < 0) list->heads[*object] = k;
            else list->members[last].next = k;
            last = k;
        }
        skip_space(s);
        if (s->at >= s->end) return give_up(s);
        if (*s->at == ',') {
            s->at++;
            continue;
        }
        if (*s->at != '}') return give_up(s);
        s->at++;
        s->depth--;
        return 1;
    }
}

/* A kept member's value, as yyjson writes it: its text when that is canonical. */
static int put_member_value(Scan *m, const MemberRec *e) {
    if (e->canonical) return put(m, e->begin, (size_t)(e->end - e->begin));
    Scan value = {.at = e->begin, .end = e->end, .out = m->out, .out_end = m->out_end, .emit = 1, .depth = m->depth};
    if (!scan_value(&value) || value.unsure) return give_up(m);
    m->out = value.out;
    return 1;
}

/* merge_object over an object a capture recorded (``object`` of ``list``): the same output, but
 * no key is read again and no removed value is looked at. A patched object the capture did not
 * descend into is merged by merge_object (which jumps over what the capture checked). */
static int merge_members(Scan *m, Node *patch, const Members *list, Py_ssize_t object) {
    if (++m->depth > MAX_DEPTH) return give_up(m);
    for (Py_ssize_t i = 0; i < patch->count; i++) patch->first_member[i] = -1;
    int first = 1;
    if (!put_char(m, '{')) return 0;
    for (Py_ssize_t k = list->heads[object]; k >= 0; k = list->members[k].next) {
        const MemberRec *e = &list->members[k];
        Py_ssize_t at = e->path_index >= 0 && e->path_index < patch->from_path_count ? patch->from_path[e->path_index] : -1;
        if (at < 0) {
            if (!put_key(m, e->key, e->key_length, &first) || !put_member_value(m, e)) return 0;
        } else if (patch->first_member[at] < 0) {
            patch->first_member[at] = k;
        }
    }
    for (Py_ssize_t i = 0; i < patch->count; i++) {
        Node *child = patch->children[i];
        if (child == NULL) continue;
        if (!put_key(m, patch->keys[i], patch->key_lengths[i], &first)) return 0;
        const MemberRec *e = patch->first_member[i] >= 0 ? &list->members[patch->first_member[i]] : NULL;
        if (e == NULL || *e->begin != '{') {
            if (!put_empty_merge(m, child)) return 0;
        } else if (e->child >= 0) {
            if (!merge_members(m, child, list, e->child)) return 0;
        } else {
            const char *at = m->at;
            m->at = e->begin;
            int ok = merge_object(m, child);
            m->at = at;
            if (!ok) return 0;
        }
    }
    m->depth--;
    return put_char(m, '}');
}

static int span_is_null(Span span) {
    return span.begin == NULL || *span.begin == 'n';
}

/* A captured value written into [out, out_end) as VARCHAR (``->>``: a string's text, other values
 * as JSON text) or as JSON; returns the bytes written, or -1 when unsure. */
static Py_ssize_t render(Span span, int as_json, char *out, char *out_end) {
    Scan s = {.at = span.begin, .end = span.end, .out = out, .out_end = out_end, .emit = 1};
    if (!as_json && span.end - span.begin > 18 && (*span.begin == '-' || (*span.begin >= '0' && *span.begin <= '9'))) {
        return -1;  /* DuckDB's VARCHAR of a number beyond 64 bits is a real's text */
    }
    if (span.canonical) {
        /* minified, no escape, numbers as DuckDB writes them: the text is the output (a string's
         * VARCHAR is its body). The capture checked it, and the output is never longer. */
        const char *from = span.begin + (!as_json && *span.begin == '"');
        Py_ssize_t length = span.end - from - (!as_json && *span.begin == '"');
        if (length > out_end - out) return -1;
        memcpy(out, from, (size_t)length);
        return length;
    }
    if (!as_json && *span.begin == '"') {
        s.raw_text = 1;
        if (!scan_string(&s)) return -1;
    } else if (!scan_value(&s)) {
        return -1;
    }
    return s.unsure ? -1 : s.out - out;
}

/* A growing output of one text column. */
typedef struct {
    char *data;
    Py_ssize_t used, capacity;
    int32_t *offsets;
} TextOut;

static int text_reserve(TextOut *t, Py_ssize_t more) {
    if (t->capacity - t->used >= more) return 1;
    Py_ssize_t capacity = t->capacity ? t->capacity : 4096;
    while (capacity - t->used < more) capacity *= 2;
    char *grown = PyMem_RawRealloc(t->data, (size_t)capacity);
    if (grown == NULL) return 0;
    t->data = grown;
    t->capacity = capacity;
    return 1;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits_at(const char *p, int n, int64_t *value) {
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        v = v * 10 + (p[i] - '0');
    }
    *value = v;
    return 1;
}

/* ``YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM|-HH:MM]`` (or a space for the T) to microseconds
 * since the epoch, the fraction truncated as DuckDB's cast does; 0 when the text is another form. */
static int parse_iso_time(const char *t, Py_ssize_t n, int64_t *micros) {
    int64_t year, month, day, hour, minute, second;
    if (n < 19 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != ' ') || t[13] != ':' || t[16] != ':'
        || !digits_at(t, 4, &year) || !digits_at(t + 5, 2, &month) || !digits_at(t + 8, 2, &day)
        || !digits_at(t + 11, 2, &hour) || !digits_at(t + 14, 2, &minute) || !digits_at(t + 17, 2, &second)) {
        return 0;
    }
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > month_days[month - 1] + (month == 2 && leap)
        || hour > 23 || minute > 59 || second > 59) {
        return 0;
    }
    Py_ssize_t at = 19;
    int64_t fraction = 0;
    if (at < n && t[at] == '.') {
        at++;
        int used = 0;
        while (at < n && t[at] >= '0' && t[at] <= '9') {
            if (used < 6) {
                fraction = fraction * 10 + (t[at] - '0');
                used++;
            }
            at++;
            if (at - 20 > 9) return 0;  /* more digits than a cast reads: left to DuckDB */
        }
        if (used == 0) return 0;
        while (used++ < 6) fraction *= 10;
    }
    int64_t offset_minutes = 0;
    if (at < n && t[at] == 'Z') {
        at++;
    } else if (at < n && (t[at] == '+' || t[at] == '-')) {
        int64_t oh, om;
        if (n - at != 6 || t[at + 3] != ':' || !digits_at(t + at + 1, 2, &oh) || !digits_at(t + at + 4, 2, &om)
            || oh > 15 || om > 59) {
            return 0;
        }
        offset_minutes = (t[at] == '-' ? -1 : 1) * (oh * 60 + om);
        at = n;
    }
    if (at != n) return 0;
    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
                      - offset_minutes * 60;
    *micros = seconds * 1000000 + fraction;
    return 1;
}

/* Text to a whole number as ``TRY_CAST(TRY_CAST(text AS DECIMAL(38, 6)) AS BIGINT)`` gives it,
 * for plain digits only (at most 18, so no overflow); 0 otherwise. */
static int parse_whole(const char *t, Py_ssize_t n, int64_t *value) {
    Py_ssize_t at = 0;
    int negative = n > 0 && t[0] == '-';
    at += negative;
    if (n - at < 1 || n - at > 18) return 0;
    int64_t v;
    if (!digits_at(t + at, (int)(n - at), &v)) return 0;
    *value = negative ? -v : v;
    return 1;
}

static int parse_bool(const char *t, Py_ssize_t n, int *value) {
    char lower[5];
    if (n < 1 || n > 5) return 0;
    for (Py_ssize_t i = 0; i < n; i++) lower[i] = (char)(t[i] >= 'A' && t[i] <= 'Z' ? t[i] + 32 : t[i]);
    if ((n == 4 && memcmp(lower, "true", 4) == 0) || (n == 1 && lower[0] == '1')) *value = 1;
    else if ((n == 5 && memcmp(lower, "false", 5) == 0) || (n == 1 && lower[0] == '0')) *value = 0;
    else return 0;
    return 1;
}

/* A dynamic column's JSON string may hold JSON text (``"[...]"``): DuckDB then stores it parsed.
 * Whether this one might: its text starts with ``[`` or ``{`` after spaces, or with an escape. */
static int string_may_hold_json(Span span) {
    for (const char *p = span.begin + 1; p < span.end; p++) {
        if (*p == ' ') continue;
        return *p == '[' || *p == '{' || *p == '\\';
    }
    return 0;
}

typedef struct {
    int kind;
    int required;               /* a null or empty value sends the row to DuckDB (quarantine) */
    Py_ssize_t source_count;
    Py_ssize_t *sources;        /* slots, in coalesce order */
    unsigned char *validity;
    TextOut text;               /* KIND_TEXT, KIND_DYNAMIC */
    unsigned char *values;      /* 8 (datetime, long), 4 (int) bytes a row, or a bitmap (bool) */
} Column;

typedef struct {
    Py_ssize_t count;
    Py_ssize_t *slots;
} Condition;

/* Each member of ``patch`` learns the slot that captures the same path in ``paths`` (objects the
 * patch merges have one too: ``rowscan.program`` gives every prefix a slot), so that merge_object
 * can jump over the value the capture already checked (skip_removed), and each key of ``paths``
 * its index in ``patch`` (merge_members). 0 when out of memory. */
static int link_slots(Node *patch, const Node *paths) {
    PyMem_Free(patch->from_path);
    patch->from_path = PyMem_Malloc((size_t)(paths->count + 1) * sizeof(Py_ssize_t));
    if (patch->from_path == NULL) return 0;
    patch->from_path_count = paths->count;
    for (Py_ssize_t i = 0; i < paths->count; i++) patch->from_path[i] = -1;
    for (Py_ssize_t i = 0; i < patch->count; i++) {
        Py_ssize_t at = node_find(paths, patch->keys[i], patch->key_lengths[i]);
        if (at < 0) continue;
        patch->slot[i] = paths->slot[at];
        patch->from_path[at] = i;
        if (patch->children[i] != NULL && paths->children[at] != NULL
            && !link_slots(patch->children[i], paths->children[at])) {
            return 0;
        }
    }
    return 1;
}

static void columns_free(Column *columns, Py_ssize_t count) {
    if (columns == NULL) return;
    for (Py_ssize_t c = 0; c < count; c++) {
        PyMem_Free(columns[c].sources);
        PyMem_RawFree(columns[c].validity);
        PyMem_RawFree(columns[c].text.data);
        PyMem_RawFree(columns[c].text.offsets);
        PyMem_RawFree(columns[c].values);
    }
    PyMem_Free(columns);
}

/* A list of slot numbers, each below ``slots``. */
static Py_ssize_t *slot_list(PyObject *list, Py_ssize_t slots, Py_ssize_t *count) {
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "a list of slots");
        return NULL;
    }
    *count = PyList_GET_SIZE(list);
    Py_ssize_t *result = PyMem_Calloc((size_t)(*count + 1), sizeof(Py_ssize_t));
    if (result == NULL) return (Py_ssize_t *)PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < *count; i++) {
        result[i] = PyLong_AsSsize_t(PyList_GET_ITEM(list, i));
        if (result[i] < 0 || result[i] >= slots) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "a slot outside the slots");
            PyMem_Free(result);
            return NULL;
        }
    }
    return result;
}

/* One row's value of one column into its outputs; 0 when unsure. ``scratch`` holds a typed
 * column's text (its capacity is the longest row). */
static int put_column(Column *col, Py_ssize_t row, const Span *spans, char *scratch, char *scratch_end) {
    Span span = {NULL, NULL, 0};
    for (Py_ssize_t i = 0; i < col->source_count; i++) {
        if (!span_is_null(spans[col->sources[i]])) {
            span = spans[col->sources[i]];
            break;
        }
    }
    if (span.begin == NULL) return !col->required;  /* null */
    Py_ssize_t length;
    if (col->kind == KIND_TEXT || col->kind == KIND_DYNAMIC) {
        if (col->kind == KIND_DYNAMIC && *span.begin == '"' && string_may_hold_json(span)) return 0;
        if (!text_reserve(&col->text, span.end - span.begin + 8)) return 0;
        length = render(span, col->kind == KIND_DYNAMIC, col->text.data + col->text.used,
                        col->text.data + col->text.capacity);
        if (length < 0 || (col->required && length == 0)) return 0;
        col->text.used += length;
        col->validity[row >> 3] |= (unsigned char)(1u << (row & 7));
        return 1;
    }
    length = render(span, 0, scratch, scratch_end);
    if (length < 0) return 0;
    if (length == 0) return !col->required;  /* '' is null in a typed column */
    int64_t value;
    int truth;
    switch (col->kind) {
        case KIND_DATETIME:
            if (!parse_iso_time(scratch, length, &value)) return 0;
            memcpy(col->values + row * 8, &value, 8);
            break;
        case KIND_LONG:
            if (!parse_whole(scratch, length, &value)) return 0;
            memcpy(col->values + row * 8, &value, 8);
            break;
        case KIND_INT: {
            if (!parse_whole(scratch, length, &value) || value < INT32_MIN || value > INT32_MAX) return 0;
            int32_t narrow = (int32_t)value;
            memcpy(col->values + row * 4, &narrow, 4);
            break;
        }
        default:  /* KIND_BOOL */
            if (!parse_bool(scratch, length, &truth)) return 0;
            if (truth) col->values[row >> 3] |= (unsigned char)(1u << (row & 7));
            break;
    }
    col->validity[row >> 3] |= (unsigned char)(1u << (row & 7));
    return 1;
}

PyDoc_STRVAR(columns_doc,
"columns(offsets, data, offset_width, start, count, tree, slots, columns, conditions, rows=None)\n"
"--\n\n"
"The typed columns of ``count`` records of an Arrow string array (as for ``remainders``; with\n"
"``rows``, a buffer of int64 record numbers from ``start``, of those records in that order).\n"
"``tree`` ({key: (slot, subtree | None)}) names the paths captured in ``slots`` slots;\n"
"``columns`` is a list of (kind, required, [slot, ...]) with kind 0 text, 1 dynamic (JSON text),\n"
"2 datetime, 3 long, 4 int, 5 bool; ``conditions`` a list (at most 8) of [slot, ...]: bit k of a\n"
"row's selector is set when every slot of condition k is null. Returns (columns, unsure, selectors):\n"
"per column (validity, int32 offsets, data) for text, else (validity, values): int64 microseconds or\n"
"numbers, int32, or a bitmap. An unsure row (a byte of 1) is null everywhere: DuckDB computes it.\n"
"With ``patches`` (as for ``remainders``; the row's selector picks its patch), a fourth item:\n"
"``_Extra`` of the sure rows as (validity, int32 offsets, data, unsure), else None; a sure row whose\n"
"``_Extra`` this scan cannot promise is flagged there (DuckDB cuts it).");

static PyObject *columns(PyObject *self, PyObject *args) {
    PyObject *offsets_object, *data_object, *tree_object, *column_list, *condition_list, *rows_object = Py_None;
    PyObject *patch_list = Py_None;
    int width;
    Py_ssize_t start, count, slots;
    if (!PyArg_ParseTuple(args, "OOinnO!nO!O!|OO", &offsets_object, &data_object, &width, &start, &count,
                          &PyDict_Type, &tree_object, &slots, &PyList_Type, &column_list, &PyList_Type,
                          &condition_list, &rows_object, &patch_list)) {
        return NULL;
    }
    Py_ssize_t patch_count = patch_list == Py_None ? 0 : PyList_Check(patch_list) ? PyList_GET_SIZE(patch_list) : -1;
    if (patch_count < 0 || patch_count > 256) {
        PyErr_SetString(PyExc_ValueError, "patches: None or a list of at most 256 patch dicts");
        return NULL;
    }
    if (slots < 1 || slots > 4096) {
        PyErr_SetString(PyExc_ValueError, "slots out of range");
        return NULL;
    }
    Py_ssize_t column_count = PyList_GET_SIZE(column_list), condition_count = PyList_GET_SIZE(condition_list);
    if (condition_count > 8) {
        PyErr_SetString(PyExc_ValueError, "at most 8 conditions");
        return NULL;
    }
    Inputs in;
    Py_ssize_t longest;
    if (!inputs_open(&in, offsets_object, data_object, NULL, rows_object, width, start, &count, NULL, &longest)) {
        return NULL;
    }
    PyObject *result = NULL, *column_results = NULL, *unsure = NULL, *selectors = NULL;
    PyObject *extra = NULL, *extra_validity = NULL, *extra_unsure = NULL;
    Node *tree = NULL, **patches = NULL;
    Py_ssize_t widest_patch = 0;
    TextOut extra_text = {0};
    Members members = {0};
    Column *cols = NULL;
    Condition *conds = NULL;
    Span *spans = NULL;
    char *scratch = NULL;
    int out_of_memory = 0;
    const char *data = in.data.buf;
    if ((tree = node_from_dict(tree_object, 0, slots)) == NULL) goto done;
    if (patch_count > 0) {
        if ((patches = PyMem_Calloc((size_t)patch_count, sizeof(Node *))) == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < patch_count; i++) {
            if ((patches[i] = node_from_dict(PyList_GET_ITEM(patch_list, i), 0, 0)) == NULL) goto done;
            if (!link_slots(patches[i], tree)) {
                PyErr_NoMemory();
                goto done;
            }
            Py_ssize_t length = skeleton_bytes(patches[i]);
            if (length > widest_patch) widest_patch = length;
        }
        extra_validity = PyBytes_FromStringAndSize(NULL, (count + 7) / 8);
        extra_unsure = PyBytes_FromStringAndSize(NULL, count);
        extra_text.offsets = PyMem_RawMalloc((size_t)(count + 1) * sizeof(int32_t));
        if (!extra_validity || !extra_unsure || !extra_text.offsets) {
            if (!PyErr_Occurred()) PyErr_NoMemory();
            goto done;
        }
        memset(PyBytes_AS_STRING(extra_validity), 0, (size_t)(count + 7) / 8);
    }
    cols = PyMem_Calloc((size_t)column_count + 1, sizeof(Column));
    conds = PyMem_Calloc((size_t)condition_count + 1, sizeof(Condition));
    spans = PyMem_Calloc((size_t)slots, sizeof(Span));
    scratch = PyMem_Malloc((size_t)longest + 16);
    if (!cols || !conds || !spans || !scratch) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t c = 0; c < column_count; c++) {
        PyObject *item = PyList_GET_ITEM(column_list, c);
        PyObject *sources;
        Column *col = &cols[c];
        if (!PyArg_ParseTuple(item, "iiO", &col->kind, &col->required, &sources)) goto done;
        if (col->kind < 0 || col->kind >= KIND_COUNT) {
            PyErr_SetString(PyExc_ValueError, "a column kind out of range");
            goto done;
        }
        if ((col->sources = slot_list(sources, slots, &col->source_count)) == NULL) goto done;
        col->validity = PyMem_RawCalloc((size_t)(count + 7) / 8 + 1, 1);
        if (col->kind == KIND_TEXT || col->kind == KIND_DYNAMIC) {
            col->text.offsets = PyMem_RawMalloc((size_t)(count + 1) * sizeof(int32_t));
            if (col->text.offsets == NULL) out_of_memory = 1;
        } else {
            size_t bytes = col->kind == KIND_INT ? (size_t)count * 4 : col->kind == KIND_BOOL ? (size_t)(count + 7) / 8
                                                                                                 : (size_t)count * 8;
            col->values = PyMem_RawCalloc(bytes + 1, 1);
            if (col->values == NULL) out_of_memory = 1;
        }
        if (col->validity == NULL || out_of_memory) {
            PyErr_NoMemory();
            goto done;
        }
    }
    for (Py_ssize_t k = 0; k < condition_count; k++) {
        if ((conds[k].slots = slot_list(PyList_GET_ITEM(condition_list, k), slots, &conds[k].count)) == NULL) goto done;
    }
    unsure = PyBytes_FromStringAndSize(NULL, count);
    selectors = PyBytes_FromStringAndSize(NULL, count);
    if (!unsure || !selectors) goto done;
    unsigned char *unsure_rows = (unsigned char *)PyBytes_AS_STRING(unsure);
    unsigned char *selector_bytes = (unsigned char *)PyBytes_AS_STRING(selectors);

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t c = 0; c < column_count; c++) {
        if (cols[c].text.offsets != NULL) cols[c].text.offsets[0] = 0;
    }
    if (extra_text.offsets != NULL) extra_text.offsets[0] = 0;
    for (Py_ssize_t row = 0; row < count && !out_of_memory; row++) {
        int64_t begin = offset_at(in.offsets.buf, width, start + record_of(&in, row));
        int64_t end = offset_at(in.offsets.buf, width, start + record_of(&in, row) + 1);
        memset(spans, 0, (size_t)slots * sizeof(Span));
        Scan s = {.at = data + begin, .end = data + end};
        Py_ssize_t top = -1;
        members.count = members.object_count = 0;
        skip_space(&s);
        int ok = s.at < s.end && *s.at == '{' && capture_object(&s, tree, spans, patches ? &members : NULL, &top);
        if (ok) {
            skip_space(&s);
            ok = s.at == s.end && !s.unsure;
        }
        for (Py_ssize_t c = 0; ok && c < column_count; c++) {
            ok = put_column(&cols[c], row, spans, scratch, scratch + longest + 16);  /* a failed growth: unsure */
        }
        unsigned char selector = 0;
        for (Py_ssize_t k = 0; ok && k < condition_count; k++) {
            int all_null = 1;
            for (Py_ssize_t i = 0; i < conds[k].count; i++) all_null &= span_is_null(spans[conds[k].slots[i]]);
            if (all_null) selector |= (unsigned char)(1u << k);
        }
        selector_bytes[row] = selector;
        unsure_rows[row] = (unsigned char)!ok;
        if (patches != NULL) {
            /* _Extra, for a sure row: the removed values this pass checked are jumped over */
            unsigned char *extra_bits = (unsigned char *)PyBytes_AS_STRING(extra_validity);
            int cut = 0;
            if (ok && selector < patch_count
                && text_reserve(&extra_text, (Py_ssize_t)(end - begin) + widest_patch + 16)) {
                char *out = extra_text.data + extra_text.used;
                Scan m = {.at = data + begin, .end = data + end, .out = out,
                          .out_end = extra_text.data + extra_text.capacity, .emit = 1, .spans = spans};
                cut = merge_members(&m, patches[selector], &members, top) && !m.unsure;
                if (cut && !(m.out - out == 2 && out[0] == '{' && out[1] == '}')) {
                    extra_bits[row >> 3] |= (unsigned char)(1u << (row & 7));
                    extra_text.used = m.out - extra_text.data;
                }
            }
            ((unsigned char *)PyBytes_AS_STRING(extra_unsure))[row] = (unsigned char)(ok && !cut);
            if (extra_text.used > INT32_MAX) out_of_memory = 1;
            extra_text.offsets[row + 1] = (int32_t)extra_text.used;
        }
        for (Py_ssize_t c = 0; c < column_count; c++) {
            Column *col = &cols[c];
            if (!ok) {
                /* null everywhere: what this row wrote is taken back */
                col->validity[row >> 3] &= (unsigned char)~(1u << (row & 7));
                if (col->text.offsets != NULL) col->text.used = col->text.offsets[row];
                if (col->kind == KIND_BOOL) col->values[row >> 3] &= (unsigned char)~(1u << (row & 7));
            }
            if (col->text.offsets != NULL) {
                if (col->text.used > INT32_MAX) out_of_memory = 1;
                col->text.offsets[row + 1] = (int32_t)col->text.used;
            }
        }
    }
    Py_END_ALLOW_THREADS
    if (out_of_memory) {
        PyErr_SetString(PyExc_MemoryError, "out of memory, or more text than 32-bit offsets hold: pass fewer rows");
        goto done;
    }
    if ((column_results = PyList_New(column_count)) == NULL) goto done;
    for (Py_ssize_t c = 0; c < column_count; c++) {
        Column *col = &cols[c];
        PyObject *item;
        /* each buffer passes to a Buffer (which frees it) and is forgotten here */
        PyObject *validity_buffer = buffer_of(col->validity, (count + 7) / 8);
        col->validity = NULL;
        if (col->text.offsets != NULL) {
            if (col->text.data == NULL) col->text.data = PyMem_RawMalloc(1);
            PyObject *offsets_buffer = buffer_of(col->text.offsets, (count + 1) * 4);
            PyObject *data_buffer = buffer_of(col->text.data, col->text.used);
            col->text.offsets = NULL;
            col->text.data = NULL;
            item = validity_buffer && offsets_buffer && data_buffer
                   ? PyTuple_Pack(3, validity_buffer, offsets_buffer, data_buffer) : NULL;
            Py_XDECREF(offsets_buffer);
            Py_XDECREF(data_buffer);
        } else {
            Py_ssize_t bytes = col->kind == KIND_INT ? count * 4 : col->kind == KIND_BOOL ? (count + 7) / 8 : count * 8;
            PyObject *values_buffer = buffer_of(col->values, bytes);
            col->values = NULL;
            item = validity_buffer && values_buffer ? PyTuple_Pack(2, validity_buffer, values_buffer) : NULL;
            Py_XDECREF(values_buffer);
        }
        Py_XDECREF(validity_buffer);
        if (item == NULL) goto done;
        PyList_SET_ITEM(column_results, c, item);
    }
    if (patches != NULL) {
        if (extra_text.data == NULL) extra_text.data = PyMem_RawMalloc(1);
        PyObject *offsets_buffer = buffer_of(extra_text.offsets, (count + 1) * 4);
        PyObject *data_buffer = buffer_of(extra_text.data, extra_text.used);
        extra_text.offsets = NULL;
        extra_text.data = NULL;
        extra = offsets_buffer && data_buffer ? PyTuple_Pack(4, extra_validity, offsets_buffer, data_buffer, extra_unsure)
                                              : NULL;
        Py_XDECREF(offsets_buffer);
        Py_XDECREF(data_buffer);
        if (extra == NULL) goto done;
    }
    result = Py_BuildValue("(OOOO)", column_results, unsure, selectors, extra ? extra : Py_None);

done:
    Py_XDECREF(extra);
    Py_XDECREF(extra_validity);
    Py_XDECREF(extra_unsure);
    PyMem_RawFree(extra_text.data);
    PyMem_RawFree(extra_text.offsets);
    PyMem_RawFree(members.members);
    PyMem_RawFree(members.heads);
    if (patches != NULL) {
        for (Py_ssize_t i = 0; i < patch_count; i++) node_free(patches[i]);
        PyMem_Free(patches);
    }
    Py_XDECREF(column_results);
    Py_XDECREF(unsure);
    Py_XDECREF(selectors);
    node_free(tree);
    columns_free(cols, column_count);
    if (conds != NULL) {
        for (Py_ssize_t k = 0; k < condition_count; k++) PyMem_Free(conds[k].slots);
        PyMem_Free(conds);
    }
    PyMem_Free(spans);
    PyMem_Free(scratch);
    inputs_release(&in);
    return result;
}

/* -- newlines ----------------------------------------------------------------------------------- */

PyDoc_STRVAR(newlines_doc,
"newlines(data, end)\n"
"--\n\n"
"``data.count(b'\\n', 0, end)`` with the GIL released: framing numbers the lines of every block of\n"
"a JSON-lines file while the workers scan the blocks before it.");

static PyObject *newlines(PyObject *self, PyObject *args) {
    Py_buffer in;
    Py_ssize_t end;
    if (!PyArg_ParseTuple(args, "y*n", &in, &end)) return NULL;
    if (end < 0 || end > in.len) {
        PyBuffer_Release(&in);
        PyErr_SetString(PyExc_ValueError, "end outside the data");
        return NULL;
    }
    Py_ssize_t count = 0;
    Py_BEGIN_ALLOW_THREADS
    const char *at = in.buf, *stop = (const char *)in.buf + end;
    while (at < stop && (at = memchr(at, '\n', (size_t)(stop - at))) != NULL) {
        count++;
        at++;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&in);
    return PyLong_FromSsize_t(count);
}

/* -- hashes of ids ------------------------------------------------------------------------------ */

PyDoc_STRVAR(hashes_doc,
"hashes(offsets, data, offset_width, start, count)\n"
"--\n\n"
"A 64-bit hash of each of ``count`` strings of an Arrow string array (as for ``remainders``; a null\n"
"row hashes as the empty string), as a buffer of uint64: what ``readers/storedids.py`` remembers of\n"
"the ids an ingest stored. Any good hash does (a collision only costs an exact look-up).");

static PyObject *hashes(PyObject *self, PyObject *args) {
    PyObject *offsets_object, *data_object;
    int width;
    Py_ssize_t start, count;
    if (!PyArg_ParseTuple(args, "OOinn", &offsets_object, &data_object, &width, &start, &count)) return NULL;
    Inputs in;
    if (!inputs_open(&in, offsets_object, data_object, NULL, NULL, width, start, &count, NULL, NULL)) return NULL;
    uint64_t *out = PyMem_RawMalloc((size_t)count * 8 + 8);
    if (out == NULL) {
        inputs_release(&in);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    const unsigned char *data = in.data.buf;
    for (Py_ssize_t row = 0; row < count; row++) {
        int64_t begin = offset_at(in.offsets.buf, width, start + row);
        int64_t end = offset_at(in.offsets.buf, width, start + row + 1);
        uint64_t hash = 0xCBF29CE484222325ULL;  /* FNV-1a, then a finalizer that spreads its bits */
        for (int64_t at = begin; at < end; at++) hash = (hash ^ data[at]) * 0x100000001B3ULL;
        hash ^= hash >> 33;
        hash *= 0xFF51AFD7ED558CCDULL;
        hash ^= hash >> 33;
        out[row] = hash;
    }
    Py_END_ALLOW_THREADS
    inputs_release(&in);
    return buffer_of(out, count * 8);
}

/* -- JSON lines: records and their routing key ------------------------------------------------ */

/* What SQL framing strips that this scan knows: the ASCII part of ``sqlgen.STRIP_CHARS``. */
static int strip_char(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1F);
}

PyDoc_STRVAR(line_records_doc,
"line_records(data)\n"
"--\n\n"
"The records of a block of JSON lines, as SQL framing (``sqlgen.stage_block_sql``) finds them:\n"
"(starts, lines), int64 buffers: ``starts[i]`` is where record i begins (its ``{``) and\n"
"``starts[n]`` is ``len(data)``, so record i is ``data[starts[i]:starts[i + 1]]``, trailing\n"
"whitespace and blank lines included; ``lines[i]`` is its line's number from 0. None when a line\n"
"is neither blank (ASCII strip characters) nor ``{...}`` once stripped of them: then SQL frames it.");

static PyObject *line_records(PyObject *self, PyObject *arg) {
    Py_buffer in;
    if (PyObject_GetBuffer(arg, &in, PyBUF_SIMPLE) < 0) return NULL;
    const char *data = in.buf, *end = data + in.len;
    /* at most one record per two bytes ("{}" and a newline need three) */
    Py_ssize_t capacity = in.len / 2 + 2;
    int64_t *starts = PyMem_RawMalloc((size_t)capacity * 8), *lines = PyMem_RawMalloc((size_t)capacity * 8);
    if (starts == NULL || lines == NULL) {
        PyMem_RawFree(starts);
        PyMem_RawFree(lines);
        PyBuffer_Release(&in);
        return PyErr_NoMemory();
    }
    Py_ssize_t count = 0;
    int ok = 1;
    Py_BEGIN_ALLOW_THREADS
    int64_t line = 0;
    for (const char *at = data; at < end; line++) {
        const char *newline = memchr(at, '\n', (size_t)(end - at));
        const char *stop = newline != NULL ? newline : end;
        const char *first = at, *last = stop;
        while (first < stop && strip_char((unsigned char)*first)) first++;
        while (last > first && strip_char((unsigned char)last[-1])) last--;
        if (first < last) {
            if (*first != '{' || last[-1] != '}' || count + 1 >= capacity) {
                ok = 0;
                break;
            }
            starts[count] = first - data;
            lines[count] = line;
            count++;
        }
        if (newline == NULL) break;
        at = newline + 1;
    }
    starts[count] = in.len;
    Py_END_ALLOW_THREADS
    PyObject *result = ok ? Py_BuildValue("(y#y#)", (const char *)starts, (count + 1) * 8, (const char *)lines, count * 8)
                          : Py_NewRef(Py_None);
    PyMem_RawFree(starts);
    PyMem_RawFree(lines);
    PyBuffer_Release(&in);
    return result;
}

PyDoc_STRVAR(top_text_doc,
"top_text(offsets, data, offset_width, start, count, key)\n"
"--\n\n"
"Per record (as for ``remainders``), the first top-level member named ``key`` as VARCHAR text\n"
"(as ``json_transform`` reads it), read no further than that member: (validity, int32 offsets,\n"
"data, unsure). A record without it is null; an unsure row (not an object, an escaped key or\n"
"text this scan cannot promise before the key) is null too. Routing reads ``category`` so.");

static PyObject *top_text(PyObject *self, PyObject *args) {
    PyObject *offsets_object, *data_object;
    const char *key;
    Py_ssize_t key_length, start, count;
    int width;
    if (!PyArg_ParseTuple(args, "OOinns#", &offsets_object, &data_object, &width, &start, &count, &key, &key_length)) {
        return NULL;
    }
    Inputs in;
    if (!inputs_open(&in, offsets_object, data_object, NULL, NULL, width, start, &count, NULL, NULL)) return NULL;
    PyObject *result = NULL, *validity = NULL, *out_offsets = NULL, *unsure = NULL;
    TextOut text = {0};
    int out_of_memory = 0;
    const char *data = in.data.buf;
    validity = PyBytes_FromStringAndSize(NULL, (count + 7) / 8);
    out_offsets = PyBytes_FromStringAndSize(NULL, (count + 1) * 4);
    unsure = PyBytes_FromStringAndSize(NULL, count);
    if (!validity || !out_offsets || !unsure) goto done;
    unsigned char *valid_bits = (unsigned char *)PyBytes_AS_STRING(validity);
    int32_t *offsets_out = (int32_t *)PyBytes_AS_STRING(out_offsets);
    unsigned char *unsure_rows = (unsigned char *)PyBytes_AS_STRING(unsure);
    memset(valid_bits, 0, (size_t)(count + 7) / 8);
    Py_BEGIN_ALLOW_THREADS
    offsets_out[0] = 0;
    for (Py_ssize_t row = 0; row < count; row++) {
        int64_t begin = offset_at(in.offsets.buf, width, start + row);
        int64_t end = offset_at(in.offsets.buf, width, start + row + 1);
        Scan s = {.at = data + begin, .end = data + end};
        Span found = {NULL, NULL, 0};
        skip_space(&s);
        int ok = s.at < s.end && *s.at == '{';
        if (ok) {
            s.at++;
            skip_space(&s);
            if (s.at < s.end && *s.at == '}') s.at = s.end;
        }
        while (ok && s.at < s.end) {
            const char *name;
            Py_ssize_t length;
            if (!plain_key(&s, &name, &length)) {
                ok = 0;
                break;
            }
            const char *value = s.at;
            if (!skip_value(&s)) {
                ok = 0;
                break;
            }
            if (length == key_length && memcmp(name, key, (size_t)length) == 0) {
                found.begin = value;
                found.end = s.at;
                break;
            }
            skip_space(&s);
            if (s.at < s.end && *s.at == ',') s.at++;
            else if (s.at < s.end && *s.at == '}') break;
            else ok = 0;
        }
        if (ok && !span_is_null(found)) {
            if (!text_reserve(&text, found.end - found.begin + 8)) {
                out_of_memory = 1;
                break;
            }
            Py_ssize_t length = render(found, 0, text.data + text.used, text.data + text.capacity);
            if (length < 0 || text.used + length > INT32_MAX) {
                ok = 0;
            } else {
                text.used += length;
                valid_bits[row >> 3] |= (unsigned char)(1u << (row & 7));
            }
        }
        unsure_rows[row] = (unsigned char)!ok;
        offsets_out[row + 1] = (int32_t)text.used;
    }
    Py_END_ALLOW_THREADS
    if (out_of_memory) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *out_data = PyBytes_FromStringAndSize(text.data ? text.data : "", text.used);
    if (out_data != NULL) result = Py_BuildValue("(OONO)", validity, out_offsets, out_data, unsure);

done:
    Py_XDECREF(validity);
    Py_XDECREF(out_offsets);
    Py_XDECREF(unsure);
    PyMem_RawFree(text.data);
    inputs_release(&in);
    return result;
}

/* -- a document's top level ------------------------------------------------------------------ */

typedef struct {
    const char *key;
    Py_ssize_t length;
    int is_array;
} Member;

PyDoc_STRVAR(top_level_doc,
"top_level(data)\n"
"--\n\n"
"The top-level members of the JSON object in ``data`` (bytes of valid UTF-8: the caller checks),\n"
"in order and with repeats, as ``[(key, value_is_an_array), ...]``: what DuckDB's ``json_keys``\n"
"and ``json_type`` say of it, without building the document (DuckDB holds ~5-6x a document's\n"
"size while it reads one). None when the text is not an object this scanner accepts: not strict\n"
"JSON (DuckDB also takes ``NaN`` and trailing commas), an escaped key, nesting deeper than\n"
"MAX_DEPTH. Then ask DuckDB.");

static PyObject *top_level(PyObject *self, PyObject *arg) {
    Py_buffer in;
    if (PyObject_GetBuffer(arg, &in, PyBUF_SIMPLE) < 0) return NULL;
    Py_ssize_t capacity = 16, count = 0;
    Member *members = PyMem_RawMalloc((size_t)capacity * sizeof(Member));
    if (members == NULL) {
        PyBuffer_Release(&in);
        return PyErr_NoMemory();
    }
    int ok = 0, out_of_memory = 0;
    Py_BEGIN_ALLOW_THREADS
    Scan s = {.at = in.buf, .end = (const char *)in.buf + in.len};
    skip_space(&s);
    if (s.at < s.end && *s.at == '{') {
        s.at++;
        skip_space(&s);
        if (s.at < s.end && *s.at == '}') {
            s.at++;
            ok = 1;
        }
        while (!ok && !s.unsure) {
            const char *key;
            Py_ssize_t length;
            if (!plain_key(&s, &key, &length)) break;
            if (count == capacity) {
                /* PyMem_RawRealloc: no GIL needed while it is released */
                Member *grown = PyMem_RawRealloc(members, (size_t)capacity * 2 * sizeof(Member));
                if (grown == NULL) {
                    out_of_memory = 1;
                    break;
                }
                members = grown;
                capacity *= 2;
            }
            members[count].key = key;
            members[count].length = length;
            members[count].is_array = s.at < s.end && *s.at == '[';
            count++;
            if (!scan_value(&s)) break;
            skip_space(&s);
            if (s.at < s.end && *s.at == ',') {
                s.at++;
                continue;
            }
            if (s.at < s.end && *s.at == '}') {
                s.at++;
                ok = 1;
            }
            break;
        }
        skip_space(&s);
        ok = ok && !s.unsure && s.at == s.end;
    }
    Py_END_ALLOW_THREADS
    PyObject *result = NULL;
    if (out_of_memory) {
        PyErr_NoMemory();
    } else if (!ok) {
        result = Py_NewRef(Py_None);
    } else if ((result = PyList_New(count)) != NULL) {
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *key = PyUnicode_DecodeUTF8(members[i].key, members[i].length, "strict");
            PyObject *pair = key == NULL ? NULL : Py_BuildValue("(NO)", key, members[i].is_array ? Py_True : Py_False);
            if (pair == NULL) {
                Py_CLEAR(result);
                break;
            }
            PyList_SET_ITEM(result, i, pair);
        }
    }
    PyMem_RawFree(members);
    PyBuffer_Release(&in);
    return result;
}

static PyMethodDef methods[] = {
    {"remainders", remainders, METH_VARARGS, remainders_doc},
    {"top_level", top_level, METH_O, top_level_doc},
    {"columns", columns, METH_VARARGS, columns_doc},
    {"line_records", line_records, METH_O, line_records_doc},
    {"newlines", newlines, METH_VARARGS, newlines_doc},
    {"hashes", hashes, METH_VARARGS, hashes_doc},
    {"top_text", top_text, METH_VARARGS, top_text_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "entrawatch.readers._jsonscan",
    .m_doc = "Scans of JSON text in C: a record's _Extra, a document's top-level keys (see the C source's header).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__jsonscan(void) {
    if (PyType_Ready(&BufferType) < 0) return NULL;
    return PyModule_Create(&module);
}
