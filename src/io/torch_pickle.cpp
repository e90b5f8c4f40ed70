#include "io/torch_pickle.hpp"

#include <ATen/ATen.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <unordered_map>

#include "dfscan/status.hpp"
#include "dfscan/text.hpp"

namespace dfscan::io::detail {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw Error(Status::decode_error, message);
}

// Hostile pickles are bounded by these; real state dicts stay far below them.
constexpr size_t kMaxStack = size_t{1} << 20;
constexpr size_t kMaxMarks = 4096;
constexpr size_t kMaxMemo = size_t{1} << 22;
constexpr size_t kMaxDims = 64;
constexpr size_t kMaxGlobalLine = 256;

enum class Kind : uint8_t {
  none,
  boolean,
  integer,
  floating,
  string,
  tuple,
  list,
  dict,
  global,
  storage,
  tensor
};

enum class GlobalId : uint8_t { ordered_dict, rebuild_tensor_v2, rebuild_parameter, storage_type };

// Small value; containers, strings, storages and tensors live in the Unpickler's arenas and are referenced
// by index, so nesting and cycles built through the memo cost no recursion and leak nothing.
struct Value {
  Kind kind = Kind::none;
  int64_t number = 0;  // bool, int, a storage type's ScalarType
  double real = 0;
  uint32_t ref = 0;  // index into the arena of `kind`, or the GlobalId
};

struct StorageSpec {
  std::string key;
  at::ScalarType dtype;
  int64_t numel;
};

struct TensorSpec {
  uint32_t storage;
  int64_t offset;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
};

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::none:
      return "None";
    case Kind::boolean:
      return "bool";
    case Kind::integer:
      return "int";
    case Kind::floating:
      return "float";
    case Kind::string:
      return "str";
    case Kind::tuple:
      return "tuple";
    case Kind::list:
      return "list";
    case Kind::dict:
      return "dict";
    case Kind::global:
      return "class";
    case Kind::storage:
      return "storage";
    case Kind::tensor:
      return "tensor";
  }
  return "?";
}

struct StorageType {
  const char* name;
  at::ScalarType dtype;
};

constexpr std::array<StorageType, 10> kStorageTypes{{
    {"FloatStorage", at::kFloat},
    {"HalfStorage", at::kHalf},
    {"BFloat16Storage", at::kBFloat16},
    {"DoubleStorage", at::kDouble},
    {"LongStorage", at::kLong},
    {"IntStorage", at::kInt},
    {"ShortStorage", at::kShort},
    {"CharStorage", at::kChar},
    {"ByteStorage", at::kByte},
    {"BoolStorage", at::kBool},
}};

class Unpickler {
 public:
  explicit Unpickler(std::string_view data) : data_(data) {}

  std::vector<TensorRecord> run() {
    Value root = parse();
    root = unwrap(root);
    if (root.kind != Kind::dict)
      fail(std::string("checkpoint top level holds a value of type ") + kind_name(root.kind) +
           ", not a dict of tensors");
    std::vector<TensorRecord> out;
    const auto& items = dicts_[root.ref];
    out.reserve(items.size());
    for (const auto& [k, v] : items) {
      if (k.kind != Kind::string)
        fail(std::string("checkpoint dict has a ") + kind_name(k.kind) + " key; expected tensor names");
      const std::string& name = strings_[k.ref];
      if (v.kind != Kind::tensor)
        fail("checkpoint entry '" + name + "' holds a value of type " + kind_name(v.kind) + ", not a tensor");
      const TensorSpec& t = tensors_[v.ref];
      const StorageSpec& storage = storages_[t.storage];
      out.push_back(
          TensorRecord{name, storage.key, storage.dtype, storage.numel, t.offset, t.sizes, t.strides});
    }
    return out;
  }

 private:
  // ---- input -------------------------------------------------------------------------------------
  const char* take(size_t n) {
    if (data_.size() - pos_ < n) fail("pickle is truncated (data.pkl ends inside an opcode)");
    const char* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }
  uint8_t u8() { return static_cast<uint8_t>(*take(1)); }
  uint64_t le(size_t n) {
    const char* p = take(n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
    return v;
  }
  std::string line() {
    size_t end = data_.find('\n', pos_);
    if (end == std::string_view::npos) fail("pickle is truncated (GLOBAL without newline)");
    if (end - pos_ > kMaxGlobalLine) fail("pickle GLOBAL name is too long");
    std::string s(data_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }

  // ---- stack -------------------------------------------------------------------------------------
  void push(Value v) {
    if (stack_.size() >= kMaxStack) fail("pickle stack is too deep");
    stack_.push_back(v);
  }
  Value pop() {
    if (stack_.size() <= floor()) fail("pickle stack underflow");
    Value v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value& top() {
    if (stack_.size() <= floor()) fail("pickle stack underflow");
    return stack_.back();
  }
  // Values above the innermost MARK may be popped; below it they belong to an enclosing construct.
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  size_t pop_mark() {
    if (marks_.empty()) fail("pickle MARK missing");
    size_t m = marks_.back();
    marks_.pop_back();
    return m;
  }

  template <typename T>
  static uint32_t add(std::vector<T>& arena, T item) {
    if (arena.size() >= std::numeric_limits<uint32_t>::max()) fail("pickle has too many objects");
    arena.push_back(std::move(item));
    return static_cast<uint32_t>(arena.size() - 1);
  }
  Value make(Kind kind, uint32_t ref) {
    Value v;
    v.kind = kind;
    v.ref = ref;
    return v;
  }
  Value make_int(int64_t n) {
    Value v;
    v.kind = Kind::integer;
    v.number = n;
    return v;
  }
  Value make_seq(Kind kind, size_t from) {
    std::vector<Value> items(stack_.begin() + static_cast<std::ptrdiff_t>(from), stack_.end());
    stack_.resize(from);
    return make(kind, add(seqs_, std::move(items)));
  }
  Value make_tuple_of(size_t n) {
    if (stack_.size() < floor() + n) fail("pickle stack underflow");
    return make_seq(Kind::tuple, stack_.size() - n);
  }

  void memo_put(uint64_t index, const Value& v) {
    if (memo_.size() >= kMaxMemo && !memo_.count(index)) fail("pickle memo is too large");
    memo_[index] = v;
  }
  Value memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end())
      fail("pickle refers to memo entry " + std::to_string(index) + " that was never stored");
    return it->second;
  }

  // ---- globals -----------------------------------------------------------------------------------
  Value global(const std::string& module, const std::string& name) {
    Value v;
    v.kind = Kind::global;
    if (module == "collections" && name == "OrderedDict") {
      v.ref = static_cast<uint32_t>(GlobalId::ordered_dict);
      return v;
    }
    if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
      v.ref = static_cast<uint32_t>(GlobalId::rebuild_tensor_v2);
      return v;
    }
    if (module == "torch._utils" && name == "_rebuild_parameter") {
      v.ref = static_cast<uint32_t>(GlobalId::rebuild_parameter);
      return v;
    }
    if (module == "torch") {
      for (const auto& t : kStorageTypes) {
        if (name == t.name) {
          v.ref = static_cast<uint32_t>(GlobalId::storage_type);
          v.number = static_cast<int64_t>(t.dtype);
          return v;
        }
      }
    }
    std::string shown = module + "." + name;
    for (char& c : shown)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    throw Error(Status::unsupported,
                "refusing pickle global '" + shown + "' (only state-dict classes are allowed)");
  }

  // ---- typed accessors ---------------------------------------------------------------------------
  const std::vector<Value>& tuple_items(const Value& v, const char* what) {
    if (v.kind != Kind::tuple) fail(std::string(what) + " must be a tuple, got " + kind_name(v.kind));
    return seqs_[v.ref];
  }
  int64_t integer(const Value& v, const char* what) {
    if (v.kind != Kind::integer && v.kind != Kind::boolean)
      fail(std::string(what) + " must be an int, got " + kind_name(v.kind));
    return v.number;
  }
  std::vector<int64_t> int_tuple(const Value& v, const char* what) {
    const auto& items = tuple_items(v, what);
    if (items.size() > kMaxDims) fail(std::string(what) + " has too many dimensions");
    std::vector<int64_t> out;
    out.reserve(items.size());
    for (const auto& item : items) {
      int64_t n = integer(item, what);
      if (n < 0) fail(std::string(what) + " has a negative entry");
      out.push_back(n);
    }
    return out;
  }

  // ---- REDUCE, BUILD, BINPERSID ------------------------------------------------------------------
  Value reduce(const Value& callable, const Value& args_value) {
    if (callable.kind != Kind::global) fail(std::string("pickle calls a ") + kind_name(callable.kind));
    const auto& args = tuple_items(args_value, "REDUCE arguments");
    switch (static_cast<GlobalId>(callable.ref)) {
      case GlobalId::ordered_dict:
        if (!args.empty()) fail("OrderedDict with constructor arguments is not supported");
        return make(Kind::dict, add(dicts_, {}));
      case GlobalId::rebuild_tensor_v2:
        return rebuild_tensor(args);
      case GlobalId::rebuild_parameter:
        // (data, requires_grad, backward_hooks)
        if (args.size() != 3 || args[0].kind != Kind::tensor) fail("malformed _rebuild_parameter call");
        return args[0];
      case GlobalId::storage_type:
        fail("pickle calls a storage class");
    }
    fail("pickle calls an unknown global");
  }

  // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  Value rebuild_tensor(const std::vector<Value>& args) {
    if (args.size() != 6 && args.size() != 7) fail("malformed _rebuild_tensor_v2 call");
    if (args[0].kind != Kind::storage) fail("_rebuild_tensor_v2 without a storage");
    const StorageSpec& storage = storages_[args[0].ref];
    TensorSpec t;
    t.storage = args[0].ref;
    t.offset = integer(args[1], "storage offset");
    if (t.offset < 0) fail("negative storage offset");
    t.sizes = int_tuple(args[2], "tensor size");
    t.strides = int_tuple(args[3], "tensor stride");
    if (t.sizes.size() != t.strides.size()) fail("tensor size and stride differ in length");
    if (args[4].kind != Kind::boolean) fail("requires_grad must be a bool");
    if (args[5].kind != Kind::dict) fail("backward hooks must be an OrderedDict");
    if (args.size() == 7 && args[6].kind != Kind::dict && args[6].kind != Kind::none)
      fail("tensor metadata must be a dict");

    // The view must lie inside its storage; checked with overflow-safe arithmetic.
    int64_t numel = 1;
    int64_t last = t.offset;
    for (size_t d = 0; d < t.sizes.size(); ++d) {
      if (__builtin_mul_overflow(numel, t.sizes[d], &numel)) fail("tensor size overflows");
    }
    if (numel == 0) {
      if (t.offset > storage.numel) fail("storage offset lies past the end of its storage");
    } else {
      for (size_t d = 0; d < t.sizes.size(); ++d) {
        int64_t span;
        if (__builtin_mul_overflow(t.sizes[d] - 1, t.strides[d], &span) ||
            __builtin_add_overflow(last, span, &last))
          fail("tensor extent overflows");
      }
      if (last >= storage.numel)
        fail("tensor view reaches element " + std::to_string(last) + " of a storage with " +
             std::to_string(storage.numel) + " elements");
    }
    return make(Kind::tensor, add(tensors_, std::move(t)));
  }

  // ('storage', storage_type, key, location, numel)
  Value persistent_load(const Value& pid) {
    const auto& f = tuple_items(pid, "persistent id");
    if (f.size() != 5 || f[0].kind != Kind::string || strings_[f[0].ref] != "storage")
      fail("unsupported persistent id (expected a storage reference)");
    if (f[1].kind != Kind::global || static_cast<GlobalId>(f[1].ref) != GlobalId::storage_type)
      fail("persistent id does not name a storage type");
    if (f[2].kind != Kind::string || f[3].kind != Kind::string) fail("malformed storage reference");
    const std::string& key = strings_[f[2].ref];
    if (key.empty() || key.size() > 64) fail("malformed storage key");
    for (char c : key)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') fail("malformed storage key");
    int64_t numel = integer(f[4], "storage size");
    auto dtype = static_cast<at::ScalarType>(f[1].number);
    int64_t bytes;
    if (numel < 0 || __builtin_mul_overflow(numel, static_cast<int64_t>(element_size(dtype)), &bytes))
      fail("storage size is out of range");
    // The location (e.g. "cuda:0") is ignored on purpose: tensors always load on the CPU.
    auto found = storage_by_key_.find(key);
    if (found != storage_by_key_.end()) {
      const StorageSpec& prev = storages_[found->second];
      if (prev.dtype != dtype || prev.numel != numel)
        fail("storage '" + key + "' is declared twice differently");
      return make(Kind::storage, found->second);
    }
    uint32_t ref = add(storages_, StorageSpec{key, dtype, numel});
    storage_by_key_.emplace(key, ref);
    return make(Kind::storage, ref);
  }

  void build(const Value& state) {
    Value& target = top();
    // OrderedDict instances carry their `_metadata` (module versions) as state; it is not needed.
    if (target.kind != Kind::dict) fail(std::string("pickle BUILD on a ") + kind_name(target.kind));
    if (state.kind != Kind::dict && state.kind != Kind::none && state.kind != Kind::tuple)
      fail("pickle BUILD with unexpected state");
  }

  void set_items(size_t from) {
    if ((stack_.size() - from) % 2 != 0) fail("pickle SETITEMS with an odd number of values");
    if (from == 0) fail("pickle stack underflow");
    Value target = stack_[from - 1];
    if (target.kind != Kind::dict) fail(std::string("pickle SETITEMS on a ") + kind_name(target.kind));
    auto& items = dicts_[target.ref];
    for (size_t i = from; i < stack_.size(); i += 2) items.emplace_back(stack_[i], stack_[i + 1]);
    stack_.resize(from);
  }
  void append_items(size_t from) {
    if (from == 0) fail("pickle stack underflow");
    Value target = stack_[from - 1];
    if (target.kind != Kind::list) fail(std::string("pickle APPENDS on a ") + kind_name(target.kind));
    auto& items = seqs_[target.ref];
    items.insert(items.end(), stack_.begin() + static_cast<std::ptrdiff_t>(from), stack_.end());
    stack_.resize(from);
  }

  // ---- main loop ---------------------------------------------------------------------------------
  Value parse() {
    while (true) {
      uint8_t op = u8();
      switch (op) {
        case 0x80: {  // PROTO
          uint8_t proto = u8();
          if (proto > 5) fail("unsupported pickle protocol " + std::to_string(proto));
          break;
        }
        case 0x95:
          take(8);
          break;     // FRAME: a hint only
        case '.': {  // STOP
          if (!marks_.empty() || stack_.size() != 1) fail("pickle ends with a malformed stack");
          return stack_.back();
        }
        case '(':  // MARK
          if (marks_.size() >= kMaxMarks) fail("pickle nests too deeply");
          marks_.push_back(stack_.size());
          break;
        case '0':
          pop();
          break;  // POP
        case '1':
          stack_.resize(pop_mark());
          break;  // POP_MARK
        case '2':
          push(top());
          break;  // DUP
        case 'N':
          push(Value{});
          break;      // NONE
        case 0x88:    // NEWTRUE
        case 0x89: {  // NEWFALSE
          Value v;
          v.kind = Kind::boolean;
          v.number = op == 0x88;
          push(v);
          break;
        }
        case 'J':
          push(make_int(static_cast<int32_t>(static_cast<uint32_t>(le(4)))));
          break;  // BININT
        case 'K':
          push(make_int(u8()));
          break;  // BININT1
        case 'M':
          push(make_int(static_cast<int64_t>(le(2))));
          break;      // BININT2
        case 0x8a: {  // LONG1
          uint8_t n = u8();
          if (n > 8) fail("pickle integer is too large");
          uint64_t raw = le(n);
          int64_t value = 0;
          if (n > 0) {
            if (n < 8 && (raw >> (8 * n - 1)) & 1) raw |= ~uint64_t{0} << (8 * n);  // sign-extend
            std::memcpy(&value, &raw, sizeof value);
          }
          push(make_int(value));
          break;
        }
        case 'G': {  // BINFLOAT, big-endian
          const char* p = take(8);
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<uint8_t>(p[i]);
          Value v;
          v.kind = Kind::floating;
          std::memcpy(&v.real, &bits, sizeof bits);
          push(v);
          break;
        }
        case 'X':     // BINUNICODE
        case 0x8c: {  // SHORT_BINUNICODE
          uint64_t n = op == 'X' ? le(4) : u8();
          const char* p = take(n);
          std::string_view text(p, n);
          if (!valid_utf8(text)) fail("pickle string is not valid UTF-8");
          push(make(Kind::string, add(strings_, std::string(text))));
          break;
        }
        case ')':
          push(make(Kind::tuple, add(seqs_, {})));
          break;  // EMPTY_TUPLE
        case 't':
          push(make_seq(Kind::tuple, pop_mark()));
          break;  // TUPLE
        case 0x85:
          push(make_tuple_of(1));
          break;  // TUPLE1
        case 0x86:
          push(make_tuple_of(2));
          break;  // TUPLE2
        case 0x87:
          push(make_tuple_of(3));
          break;  // TUPLE3
        case ']':
          push(make(Kind::list, add(seqs_, {})));
          break;  // EMPTY_LIST
        case 'l':
          push(make_seq(Kind::list, pop_mark()));
          break;  // LIST
        case '}':
          push(make(Kind::dict, add(dicts_, {})));
          break;     // EMPTY_DICT
        case 'd': {  // DICT
          size_t from = pop_mark();
          Value d = make(Kind::dict, add(dicts_, {}));
          stack_.insert(stack_.begin() + static_cast<std::ptrdiff_t>(from), d);
          set_items(from + 1);
          break;
        }
        case 'a': {  // APPEND
          Value v = pop();
          Value& list = top();
          if (list.kind != Kind::list) fail(std::string("pickle APPEND on a ") + kind_name(list.kind));
          seqs_[list.ref].push_back(v);
          break;
        }
        case 'e':
          append_items(pop_mark());
          break;     // APPENDS
        case 's': {  // SETITEM
          if (stack_.size() < floor() + 3) fail("pickle stack underflow");
          set_items(stack_.size() - 2);
          break;
        }
        case 'u':
          set_items(pop_mark());
          break;  // SETITEMS
        case 'q':
          memo_put(u8(), top());
          break;  // BINPUT
        case 'r':
          memo_put(le(4), top());
          break;  // LONG_BINPUT
        case 0x94:
          memo_put(memo_.size(), top());
          break;  // MEMOIZE
        case 'h':
          push(memo_get(u8()));
          break;  // BINGET
        case 'j':
          push(memo_get(le(4)));
          break;     // LONG_BINGET
        case 'c': {  // GLOBAL
          std::string module = line();
          std::string name = line();
          push(global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          Value name = pop();
          Value module = pop();
          if (name.kind != Kind::string || module.kind != Kind::string) fail("malformed STACK_GLOBAL");
          push(global(strings_[module.ref], strings_[name.ref]));
          break;
        }
        case 'R': {  // REDUCE
          Value args = pop();
          Value callable = pop();
          push(reduce(callable, args));
          break;
        }
        case 'b':
          build(pop());
          break;  // BUILD
        case 'Q':
          push(persistent_load(pop()));
          break;  // BINPERSID
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          fail(std::string("unsupported pickle opcode ") + hex + " at byte " + std::to_string(pos_ - 1));
        }
      }
    }
  }

  // ---- results -----------------------------------------------------------------------------------
  const Value* dict_get(const Value& dict, std::string_view key) const {
    for (const auto& [k, v] : dicts_[dict.ref])
      if (k.kind == Kind::string && strings_[k.ref] == key) return &v;
    return nullptr;
  }
  Value unwrap(const Value& root) const {
    if (root.kind != Kind::dict) return root;
    for (const char* wrapper : {"state_dict", "model"}) {
      const Value* inner = dict_get(root, wrapper);
      if (inner && inner->kind == Kind::dict) return *inner;
    }
    return root;
  }

  std::string_view data_;
  size_t pos_ = 0;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value> memo_;
  std::vector<std::string> strings_;
  std::vector<std::vector<Value>> seqs_;
  std::vector<std::vector<std::pair<Value, Value>>> dicts_;
  std::vector<StorageSpec> storages_;
  std::vector<TensorSpec> tensors_;
  std::unordered_map<std::string, uint32_t> storage_by_key_;
};

}  // namespace

size_t element_size(at::ScalarType dtype) {
  return c10::elementSize(dtype);
}

std::vector<TensorRecord> unpickle_tensor_records(std::string_view pickle) {
  Unpickler unpickler(pickle);
  return unpickler.run();
}

at::Tensor tensor_from_record(const TensorRecord& record, const c10::Storage& storage) {
  return at::empty({0}, at::TensorOptions().dtype(record.dtype))
      .set_(storage, record.offset, record.sizes, record.strides);
}

std::vector<std::pair<std::string, at::Tensor>> unpickle_tensor_dict(std::string_view pickle,
                                                                     const StorageLoader& load_storage) {
  std::unordered_map<std::string, c10::Storage> loaded;  // tensors that share a storage share it here too
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& record : unpickle_tensor_records(pickle)) {
    auto it = loaded.find(record.storage_key);
    if (it == loaded.end())
      it = loaded
               .emplace(record.storage_key,
                        load_storage(record.storage_key, record.dtype, record.storage_numel))
               .first;
    out.emplace_back(record.name, tensor_from_record(record, it->second));
  }
  return out;
}

}  // namespace dfscan::io::detail
