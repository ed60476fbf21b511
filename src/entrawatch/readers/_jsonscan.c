/*
 * entrawatch.readers._jsonscan: two scans of JSON text in C, for what DuckDB or Python did slowly.
 *
 * ``remainders``: a record's ``_Extra`` (the record minus the fields a column took), computed in
 * one pass over its JSON text, byte for byte as DuckDB's ``nullif(json_merge_patch(raw, patch),
 * '{}')`` computes it (below). ``top_level``: a document's top-level keys with their repeats, as
 * DuckDB's ``json_keys`` lists them, without building the document (see its docstring).
 *
 * Why native: DuckDB's ``json_merge_patch`` parses the ~2-4 KB record, deep-copies it into a
 * mutable document, patches and writes it: ~7-10 us per record, 45 % of the normalize statement
 * (benchmarks/ingest_breakdown.py). This scanner copies what stays and skips what goes.
 *
 * Exactness: the output is what yyjson (DuckDB's JSON library) writes after a merge patch
 * (RFC 7396 as yyjson implements it):
 *   - members the patch does not name are kept, in their order, minified;
 *   - then, in the patch's order, every member whose patch value is an object: the record's first
 *     member of that name merged recursively, or ``{}`` merged when it is missing or not an object;
 *   - strings are unescaped and re-escaped as yyjson writes them (``\"``, ``\\``, ``\b \t \n \f \r``,
 *     other control characters as ``\u00XX`` in upper case, everything else as raw UTF-8);
 *   - integers are copied (yyjson writes the same digits, or the raw text when they overflow).
 * Whatever this scanner cannot promise to write identically is *not* guessed: the row is flagged
 * and the caller computes it with DuckDB. That covers reals (yyjson reformats them), ``-0``,
 * ``NaN``/``Infinity``, trailing commas, escaped keys, nesting deeper than MAX_DEPTH and any text
 * that is not JSON. tests/readers/test_remainder.py checks the equality against DuckDB.
 *
 * Safety: every read is bounds-checked against the record's end and every write against the
 * output's capacity; the input is attacker-controlled.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 256

/* -- the patch: a tree of objects whose leaves are removals (null) ------------------------------ */

typedef struct Node {
    Py_ssize_t count;
    char **keys;
    Py_ssize_t *key_lengths;
    struct Node **children;      /* NULL child: the member is removed */
    const char **first_value;    /* per record: where the first member of that name starts */
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

/* Build a node from a patch dict ({key: None | dict}); raises and returns NULL on anything else. */
static Node *node_from_dict(PyObject *dict, int depth) {
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
    node->slots = PyMem_Malloc((size_t)table * sizeof(Py_ssize_t));
    if (!node->keys || !node->key_lengths || !node->children || !node->first_value || !node->slots) {
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
        if (value != Py_None) {
            node->children[index] = node_from_dict(value, depth + 1);
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

/* -- the scanner ---------------------------------------------------------------------------------- */

typedef struct {
    const char *at;
    const char *end;
    char *out;          /* next byte to write */
    char *out_end;      /* capacity */
    int emit;           /* 0 while skipping a removed value */
    int unsure;         /* set when the row must be computed by DuckDB */
    int depth;
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
    while (s->at < s->end && (*s->at == ' ' || *s->at == '\n' || *s->at == '\r' || *s->at == '\t')) s->at++;
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
    if (!put_char(s, '"')) return 0;
    for (;;) {
        const char *run = s->at;
        s->at = plain_run(s->at, s->end);
        if (!put(s, run, (size_t)(s->at - run))) return 0;
        if (s->at >= s->end) return give_up(s);
        char c = *s->at;
        if (c == '"') {
            s->at++;
            return put_char(s, '"');
        }
        if (c != '\\' || s->end - s->at < 2) return give_up(s);  /* a raw control character, or a cut escape */
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

/* An integer is copied. A real or ``-0`` is checked when skipped, but one that would be written is
 * left to DuckDB: yyjson rewrites them (``1.50`` as ``1.5``, ``1e2`` as ``100.0``, ``-0`` as ``0``). */
static int scan_number(Scan *s) {
    const char *start = s->at;
    if (s->at < s->end && *s->at == '-') s->at++;
    const char *digits = s->at;
    while (s->at < s->end && *s->at >= '0' && *s->at <= '9') s->at++;
    Py_ssize_t count = s->at - digits;
    if (count == 0 || (count > 1 && *digits == '0')) return give_up(s);
    int plain = !(start != digits && count == 1 && *digits == '0');
    if (s->at < s->end && *s->at == '.') {
        plain = 0;
        const char *fraction = ++s->at;
        while (s->at < s->end && *s->at >= '0' && *s->at <= '9') s->at++;
        if (s->at == fraction) return give_up(s);
    }
    if (s->at < s->end && (*s->at == 'e' || *s->at == 'E')) {
        plain = 0;
        s->at++;
        if (s->at < s->end && (*s->at == '+' || *s->at == '-')) s->at++;
        const char *exponent = s->at;
        while (s->at < s->end && *s->at >= '0' && *s->at <= '9') s->at++;
        if (s->at == exponent) return give_up(s);
    }
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
                if (!skip_value(s)) return 0;
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
    Py_buffer offsets, data, selectors;
    int have_selectors;
} Inputs;

static void inputs_release(Inputs *in) {
    if (in->offsets.obj) PyBuffer_Release(&in->offsets);
    if (in->data.obj) PyBuffer_Release(&in->data);
    if (in->have_selectors && in->selectors.obj) PyBuffer_Release(&in->selectors);
}

/* The ``index``-th Arrow offset, 32 or 64 bits wide. */
static int64_t offset_at(const void *offsets, int width, Py_ssize_t index) {
    return width == 4 ? ((const int32_t *)offsets)[index] : ((const int64_t *)offsets)[index];
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
    if (width != 4 && width != 8) {
        PyErr_SetString(PyExc_ValueError, "offset_width is 4 or 8");
        return NULL;
    }
    if (start < 0 || count < 0 || start > PY_SSIZE_T_MAX / 32 || count > PY_SSIZE_T_MAX / 32) {
        PyErr_SetString(PyExc_ValueError, "start and count are row numbers: not negative, not absurd");
        return NULL;
    }
    Py_ssize_t patch_count = PyList_GET_SIZE(patch_list);
    if (patch_count < 1 || patch_count > 256) {
        PyErr_SetString(PyExc_ValueError, "between 1 and 256 patches");
        return NULL;
    }
    Inputs in = {0};
    in.have_selectors = selectors_object != Py_None;
    if (PyObject_GetBuffer(offsets_object, &in.offsets, PyBUF_SIMPLE) < 0
        || PyObject_GetBuffer(data_object, &in.data, PyBUF_SIMPLE) < 0
        || (in.have_selectors && PyObject_GetBuffer(selectors_object, &in.selectors, PyBUF_SIMPLE) < 0)) {
        inputs_release(&in);
        return NULL;
    }
    if (in.offsets.len < (start + count + 1) * width
        || (in.have_selectors && in.selectors.len < count)) {
        inputs_release(&in);
        PyErr_SetString(PyExc_ValueError, "buffers shorter than start + count rows");
        return NULL;
    }
    const char *data = in.data.buf;
    Py_ssize_t data_length = in.data.len;
    const unsigned char *selectors = in.have_selectors ? in.selectors.buf : NULL;

    Node **patches = PyMem_Calloc((size_t)patch_count, sizeof(Node *));
    Py_ssize_t widest_patch = 0;
    PyObject *result = NULL, *validity = NULL, *out_offsets = NULL, *out_data = NULL, *unsure = NULL;
    if (patches == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < patch_count; i++) {
        patches[i] = node_from_dict(PyList_GET_ITEM(patch_list, i), 0);
        if (patches[i] == NULL) goto done;
        Py_ssize_t length = skeleton_bytes(patches[i]);
        if (length > widest_patch) widest_patch = length;
    }

    /* Read every row's bounds first: a row outside the data buffer is an error, not a crash. */
    Py_ssize_t input_bytes = 0;
    for (Py_ssize_t row = 0; row < count; row++) {
        int64_t begin = offset_at(in.offsets.buf, width, start + row);
        int64_t end = offset_at(in.offsets.buf, width, start + row + 1);
        if (begin < 0 || end < begin || end > data_length) {
            PyErr_Format(PyExc_ValueError, "row %zd: offsets outside the data buffer", row);
            goto done;
        }
        if (selectors != NULL && selectors[row] >= patch_count) {
            PyErr_Format(PyExc_ValueError, "row %zd: selector %d names no patch", row, selectors[row]);
            goto done;
        }
        input_bytes += (Py_ssize_t)(end - begin);
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
        int64_t begin = offset_at(in.offsets.buf, width, start + row);
        int64_t end = offset_at(in.offsets.buf, width, start + row + 1);
        Scan s = {data + begin, data + end, cursor, base + capacity, 1, 0, 0};
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
    Scan s = {in.buf, (const char *)in.buf + in.len, NULL, NULL, 0, 0, 0};
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
    return PyModule_Create(&module);
}
