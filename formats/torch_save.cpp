#include "formats/torch_save.hpp"

#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <fmt/ranges.h>

#include "core/check.hpp"
#include "formats/zip.hpp"

namespace evoscope {
namespace {

// ---------------------------------------------------------------------------------------------
// Pickle values. Only what a state dict needs is modelled; anything else is Opaque, carrying a
// description for messages. Lists, dicts and sets are shared (memo entries alias them).

enum class Kind : std::uint8_t {
    None,
    Bool,
    Int,
    Float,
    String,
    Bytes,
    Tuple,
    List,
    Dict,
    Set,
    Global,
    Storage,
    Tensor,
    Opaque
};

struct Value;
/// Values live in the Unpickler's arena (a pickle can build cycles, e.g. a dict holding
/// itself, which reference counting would leak).
using ValuePtr = Value*;

struct Value {
    Kind kind = Kind::None;
    bool boolean = false;
    std::int64_t integer = 0;
    double real = 0.0;
    std::string text;             ///< String, Bytes, Global ("module.name"), Opaque (description)
    std::vector<ValuePtr> items;  ///< Tuple, List, Set
    std::vector<std::pair<ValuePtr, ValuePtr>> entries;  ///< Dict, in insertion order
    TorchSaveTensor tensor;  ///< Storage (dtype, storage_key, storage_numel) and Tensor
};

const char* kind_name(Kind kind) {
    switch (kind) {
        case Kind::None:
            return "None";
        case Kind::Bool:
            return "bool";
        case Kind::Int:
            return "int";
        case Kind::Float:
            return "float";
        case Kind::String:
            return "str";
        case Kind::Bytes:
            return "bytes";
        case Kind::Tuple:
            return "tuple";
        case Kind::List:
            return "list";
        case Kind::Dict:
            return "dict";
        case Kind::Set:
            return "set";
        case Kind::Global:
            return "global";
        case Kind::Storage:
            return "storage";
        case Kind::Tensor:
            return "tensor";
        case Kind::Opaque:
            return "object";
    }
    return "?";
}

/// dtype of a legacy typed-storage class (`torch.BFloat16Storage`), as torch.save names them
/// in persistent ids; UntypedStorage holds bytes.
std::optional<TorchDtype> storage_dtype(std::string_view global) {
    static const std::map<std::string_view, TorchDtype> kTypes{
        {"torch.DoubleStorage", TorchDtype::Double},
        {"torch.FloatStorage", TorchDtype::Float},
        {"torch.HalfStorage", TorchDtype::Half},
        {"torch.BFloat16Storage", TorchDtype::BFloat16},
        {"torch.LongStorage", TorchDtype::Long},
        {"torch.IntStorage", TorchDtype::Int},
        {"torch.ShortStorage", TorchDtype::Short},
        {"torch.CharStorage", TorchDtype::Char},
        {"torch.ByteStorage", TorchDtype::Byte},
        {"torch.BoolStorage", TorchDtype::Bool},
        {"torch.ComplexFloatStorage", TorchDtype::ComplexFloat},
        {"torch.ComplexDoubleStorage", TorchDtype::ComplexDouble},
        {"torch.UntypedStorage", TorchDtype::Byte},
        {"torch.storage.UntypedStorage", TorchDtype::Byte},
    };
    const auto it = kTypes.find(global);
    if (it == kTypes.end()) {
        return std::nullopt;
    }
    return it->second;
}

bool is_dict_class(const Value& v) {
    return v.kind == Kind::Global && (v.text == "collections.OrderedDict" ||
                                      v.text == "builtins.dict" || v.text == "__builtin__.dict");
}

// ---------------------------------------------------------------------------------------------

class Unpickler {
public:
    Unpickler(std::span<const std::byte> data, std::string where)
        : data_(data), where_(std::move(where)) {}

    ValuePtr run();

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw FormatError(fmt::format("{}: {} (pickle offset {})", where_, what, op_pos_));
    }

    const std::byte* take(std::size_t n) {
        if (n > data_.size() - pos_) {
            fail("pickle stream ends inside an opcode (truncated data.pkl?)");
        }
        const std::byte* p = data_.data() + pos_;
        pos_ += n;
        return p;
    }

    template <typename T>
    T take_le() {
        T v;
        std::memcpy(&v, take(sizeof(T)), sizeof(T));
        return v;
    }

    std::string take_string(std::size_t n) {
        const std::byte* p = take(n);
        return {reinterpret_cast<const char*>(p), n};
    }

    std::string take_line() {
        const std::size_t begin = pos_;
        while (pos_ < data_.size() && data_[pos_] != std::byte{'\n'}) {
            ++pos_;
        }
        if (pos_ == data_.size()) {
            fail("pickle stream ends inside a GLOBAL name");
        }
        ++pos_;
        return {reinterpret_cast<const char*>(data_.data() + begin), pos_ - begin - 1};
    }

    ValuePtr pop() {
        if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) {
            fail("pickle stack underflow");
        }
        ValuePtr v = std::move(stack_.back());
        stack_.pop_back();
        return v;
    }

    ValuePtr& top() {
        if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) {
            fail("pickle stack underflow");
        }
        return stack_.back();
    }

    std::vector<ValuePtr> pop_mark() {
        if (marks_.empty()) {
            fail("pickle MARK expected");
        }
        const std::size_t mark = marks_.back();
        marks_.pop_back();
        std::vector<ValuePtr> items(
            std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(mark)),
            std::make_move_iterator(stack_.end()));
        stack_.resize(mark);
        return items;
    }

    void put(std::uint64_t index) { memo_[index] = top(); }

    void get(std::uint64_t index) {
        const auto it = memo_.find(index);
        if (it == memo_.end()) {
            fail(fmt::format("pickle memo key {} is not defined", index));
        }
        stack_.push_back(it->second);
    }

    ValuePtr make(Kind kind) {
        arena_.push_back(std::make_unique<Value>());
        arena_.back()->kind = kind;
        return arena_.back().get();
    }

    ValuePtr make_text(Kind kind, std::string text) {
        auto v = make(kind);
        v->text = std::move(text);
        return v;
    }

    ValuePtr make_int(std::int64_t i) {
        auto v = make(Kind::Int);
        v->integer = i;
        return v;
    }

    ValuePtr tuple(std::vector<ValuePtr> items) {
        auto v = make(Kind::Tuple);
        v->items = std::move(items);
        return v;
    }

    void set_items(Value& target, std::vector<ValuePtr>& kv) {
        if (kv.size() % 2 != 0) {
            fail("pickle SETITEMS with an odd number of items");
        }
        if (target.kind == Kind::Opaque) {
            return;  // e.g. the dict items of an unknown class: not needed
        }
        if (target.kind != Kind::Dict) {
            fail(fmt::format("pickle SETITEM on a {}", kind_name(target.kind)));
        }
        for (std::size_t i = 0; i < kv.size(); i += 2) {
            target.entries.emplace_back(std::move(kv[i]), std::move(kv[i + 1]));
        }
    }

    void append_items(Value& target, std::vector<ValuePtr>& items, Kind expected) {
        if (target.kind == Kind::Opaque) {
            return;
        }
        if (target.kind != expected) {
            fail(fmt::format("pickle APPEND/ADDITEMS on a {}", kind_name(target.kind)));
        }
        for (auto& item : items) {
            target.items.push_back(std::move(item));
        }
    }

    ValuePtr call(const ValuePtr& callable, const ValuePtr& args);
    ValuePtr rebuild_tensor(const std::vector<ValuePtr>& args);
    ValuePtr persistent_load(const ValuePtr& pid);
    std::vector<std::int64_t> int_tuple(const ValuePtr& v, const char* what);

    std::span<const std::byte> data_;
    std::string where_;
    std::size_t pos_ = 0;
    std::size_t op_pos_ = 0;
    std::vector<ValuePtr> stack_;
    std::vector<std::size_t> marks_;
    std::unordered_map<std::uint64_t, ValuePtr> memo_;
    std::vector<std::unique_ptr<Value>> arena_;
};

std::vector<std::int64_t> Unpickler::int_tuple(const ValuePtr& v, const char* what) {
    if (v->kind != Kind::Tuple && v->kind != Kind::List) {
        fail(fmt::format("tensor {} is a {}, not a tuple", what, kind_name(v->kind)));
    }
    std::vector<std::int64_t> out;
    for (const auto& item : v->items) {
        if (item->kind != Kind::Int) {
            fail(fmt::format("tensor {} holds a {}", what, kind_name(item->kind)));
        }
        out.push_back(item->integer);
    }
    return out;
}

ValuePtr Unpickler::rebuild_tensor(const std::vector<ValuePtr>& args) {
    // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
    // backward_hooks[, metadata]); requires_grad and hooks do not matter for inference.
    if (args.size() < 4) {
        fail("_rebuild_tensor with fewer than 4 arguments");
    }
    if (args[0]->kind != Kind::Storage) {
        fail(fmt::format("_rebuild_tensor on a {}, not a storage", kind_name(args[0]->kind)));
    }
    if (args[1]->kind != Kind::Int) {
        fail("_rebuild_tensor storage offset is not an int");
    }
    auto v = make(Kind::Tensor);
    v->tensor = args[0]->tensor;
    v->tensor.storage_offset = args[1]->integer;
    v->tensor.shape = int_tuple(args[2], "size");
    v->tensor.stride = int_tuple(args[3], "stride");
    if (v->tensor.shape.size() != v->tensor.stride.size()) {
        fail("tensor size and stride differ in length");
    }
    return v;
}

ValuePtr Unpickler::persistent_load(const ValuePtr& pid) {
    // ('storage', storage_type, key, location, numel), as torch.save's persistent_id writes it.
    const auto& t = pid->items;
    if (pid->kind != Kind::Tuple || t.size() < 5 || t[0]->kind != Kind::String ||
        t[0]->text != "storage") {
        fail("unsupported persistent id (expected ('storage', type, key, location, numel))");
    }
    if (t[1]->kind != Kind::Global || t[2]->kind != Kind::String || t[4]->kind != Kind::Int) {
        fail("malformed storage persistent id");
    }
    const auto dtype = storage_dtype(t[1]->text);
    if (!dtype) {
        fail(fmt::format("unsupported storage type '{}'", t[1]->text));
    }
    auto v = make(Kind::Storage);
    v->tensor.dtype = *dtype;
    v->tensor.storage_key = t[2]->text;
    v->tensor.storage_numel = t[4]->integer;
    return v;
}

ValuePtr Unpickler::call(const ValuePtr& callable, const ValuePtr& args_value) {
    if (callable->kind != Kind::Global) {
        return make_text(Kind::Opaque,
                         fmt::format("result of calling a {}", kind_name(callable->kind)));
    }
    const std::string& f = callable->text;
    static const std::vector<ValuePtr> kNoArgs;
    const auto& args = args_value->kind == Kind::Tuple ? args_value->items : kNoArgs;
    if (is_dict_class(*callable)) {
        return make(Kind::Dict);  // OrderedDict() / dict(): items follow through SETITEMS
    }
    if (f == "torch._utils._rebuild_tensor_v2" || f == "torch._utils._rebuild_tensor") {
        return rebuild_tensor(args);
    }
    if (f == "torch._utils._rebuild_parameter" ||
        f == "torch._utils._rebuild_parameter_with_state") {
        if (args.empty()) {
            fail("_rebuild_parameter without arguments");
        }
        return args[0];
    }
    if (f == "torch._tensor._rebuild_from_type_v2" || f == "torch._tensor._rebuild_from_type") {
        // (func, type, args, state): a Tensor subclass or a tensor with Python attributes.
        if (args.size() < 3) {
            fail("_rebuild_from_type with fewer than 3 arguments");
        }
        return call(args[0], args[2]);
    }
    return make_text(Kind::Opaque, f + "(...)");
}

ValuePtr Unpickler::run() {
    while (true) {
        op_pos_ = pos_;
        const auto op = static_cast<std::uint8_t>(*take(1));
        switch (op) {
            case 0x80:  // PROTO
                take(1);
                break;
            case 0x95:  // FRAME: framing is only a buffering hint
                take(8);
                break;
            case '.': {  // STOP
                ValuePtr result = pop();
                return result;
            }
            case '(':  // MARK
                marks_.push_back(stack_.size());
                break;
            case '0':  // POP
                pop();
                break;
            case '1':  // POP_MARK
                pop_mark();
                break;
            case '2':  // DUP
                stack_.push_back(top());
                break;
            case 'N':
                stack_.push_back(make(Kind::None));
                break;
            case 0x88:
            case 0x89: {  // NEWTRUE, NEWFALSE
                auto v = make(Kind::Bool);
                v->boolean = op == 0x88;
                stack_.push_back(v);
                break;
            }
            case 'J':
                stack_.push_back(make_int(take_le<std::int32_t>()));
                break;
            case 'K':
                stack_.push_back(make_int(take_le<std::uint8_t>()));
                break;
            case 'M':
                stack_.push_back(make_int(take_le<std::uint16_t>()));
                break;
            case 0x8a:    // LONG1
            case 0x8b: {  // LONG4
                const std::size_t n =
                    op == 0x8a ? take_le<std::uint8_t>() : take_le<std::uint32_t>();
                const std::byte* p = take(n);
                if (n > 8) {
                    stack_.push_back(make_text(Kind::Opaque, "integer wider than 64 bits"));
                    break;
                }
                std::uint64_t u = 0;
                for (std::size_t i = 0; i < n; ++i) {
                    u |= static_cast<std::uint64_t>(p[i]) << (8 * i);
                }
                if (n > 0 && n < 8 && (static_cast<std::uint8_t>(p[n - 1]) & 0x80U) != 0) {
                    u |= ~std::uint64_t{0} << (8 * n);  // sign-extend two's complement
                }
                stack_.push_back(make_int(static_cast<std::int64_t>(u)));
                break;
            }
            case 'G': {  // BINFLOAT, big-endian
                std::uint64_t bits = 0;
                const std::byte* p = take(8);
                for (int i = 0; i < 8; ++i) {
                    bits = (bits << 8) | static_cast<std::uint64_t>(p[i]);
                }
                auto v = make(Kind::Float);
                std::memcpy(&v->real, &bits, sizeof(bits));
                stack_.push_back(v);
                break;
            }
            case 'X':  // BINUNICODE
                stack_.push_back(make_text(Kind::String, take_string(take_le<std::uint32_t>())));
                break;
            case 0x8c:  // SHORT_BINUNICODE
                stack_.push_back(make_text(Kind::String, take_string(take_le<std::uint8_t>())));
                break;
            case 0x8d:  // BINUNICODE8
                stack_.push_back(make_text(
                    Kind::String, take_string(static_cast<std::size_t>(take_le<std::uint64_t>()))));
                break;
            case 'T':  // BINSTRING (protocol 1 str)
                stack_.push_back(make_text(
                    Kind::String, take_string(static_cast<std::size_t>(take_le<std::int32_t>()))));
                break;
            case 'U':  // SHORT_BINSTRING
                stack_.push_back(make_text(Kind::String, take_string(take_le<std::uint8_t>())));
                break;
            case 'B':  // BINBYTES
                stack_.push_back(make_text(Kind::Bytes, take_string(take_le<std::uint32_t>())));
                break;
            case 'C':  // SHORT_BINBYTES
                stack_.push_back(make_text(Kind::Bytes, take_string(take_le<std::uint8_t>())));
                break;
            case 0x8e:  // BINBYTES8
                stack_.push_back(make_text(
                    Kind::Bytes, take_string(static_cast<std::size_t>(take_le<std::uint64_t>()))));
                break;
            case '}':
                stack_.push_back(make(Kind::Dict));
                break;
            case ']':
                stack_.push_back(make(Kind::List));
                break;
            case ')':
                stack_.push_back(make(Kind::Tuple));
                break;
            case 0x8f:  // EMPTY_SET
                stack_.push_back(make(Kind::Set));
                break;
            case 't':
                stack_.push_back(tuple(pop_mark()));
                break;
            case 0x85:
            case 0x86:
            case 0x87: {  // TUPLE1..3
                const std::size_t n = op - 0x84U;
                std::vector<ValuePtr> items(n);
                for (std::size_t i = n; i-- > 0;) {
                    items[i] = pop();
                }
                stack_.push_back(tuple(std::move(items)));
                break;
            }
            case 'l': {  // LIST
                auto v = make(Kind::List);
                v->items = pop_mark();
                stack_.push_back(v);
                break;
            }
            case 0x91: {  // FROZENSET
                auto v = make(Kind::Set);
                v->items = pop_mark();
                stack_.push_back(v);
                break;
            }
            case 'd': {  // DICT
                auto items = pop_mark();
                auto v = make(Kind::Dict);
                set_items(*v, items);
                stack_.push_back(v);
                break;
            }
            case 'a': {  // APPEND
                std::vector<ValuePtr> items{pop()};
                append_items(*top(), items, Kind::List);
                break;
            }
            case 'e': {  // APPENDS
                auto items = pop_mark();
                append_items(*top(), items, Kind::List);
                break;
            }
            case 0x90: {  // ADDITEMS
                auto items = pop_mark();
                append_items(*top(), items, Kind::Set);
                break;
            }
            case 's': {  // SETITEM
                ValuePtr value = pop();
                ValuePtr key = pop();
                std::vector<ValuePtr> kv{std::move(key), std::move(value)};
                set_items(*top(), kv);
                break;
            }
            case 'u': {  // SETITEMS
                auto kv = pop_mark();
                set_items(*top(), kv);
                break;
            }
            case 'q':
                put(take_le<std::uint8_t>());
                break;
            case 'r':
                put(take_le<std::uint32_t>());
                break;
            case 0x94:  // MEMOIZE
                put(memo_.size());
                break;
            case 'h':
                get(take_le<std::uint8_t>());
                break;
            case 'j':
                get(take_le<std::uint32_t>());
                break;
            case 'c': {  // GLOBAL "module\nname\n"
                std::string module = take_line();
                std::string name = take_line();
                stack_.push_back(make_text(Kind::Global, module + "." + name));
                break;
            }
            case 0x93: {  // STACK_GLOBAL
                ValuePtr name = pop();
                ValuePtr module = pop();
                if (name->kind != Kind::String || module->kind != Kind::String) {
                    fail("STACK_GLOBAL on non-strings");
                }
                stack_.push_back(make_text(Kind::Global, module->text + "." + name->text));
                break;
            }
            case 'R': {  // REDUCE
                ValuePtr args = pop();
                ValuePtr callable = pop();
                stack_.push_back(call(callable, args));
                break;
            }
            case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
                pop();    // args: not needed for an opaque object
                ValuePtr cls = pop();
                stack_.push_back(is_dict_class(*cls) ? make(Kind::Dict)
                                                     : make_text(Kind::Opaque,
                                                                 cls->kind == Kind::Global
                                                                     ? cls->text + " object"
                                                                     : std::string("object")));
                break;
            }
            case 0x92: {  // NEWOBJ_EX
                pop();    // kwargs
                pop();    // args
                ValuePtr cls = pop();
                stack_.push_back(is_dict_class(*cls)
                                     ? make(Kind::Dict)
                                     : make_text(Kind::Opaque, cls->text + " object"));
                break;
            }
            case 'b':  // BUILD: __setstate__ / attribute state (e.g. a state dict's _metadata)
                pop();
                top();
                break;
            case 'Q': {  // BINPERSID
                ValuePtr pid = pop();
                stack_.push_back(persistent_load(pid));
                break;
            }
            default:
                fail(
                    fmt::format("unsupported pickle opcode 0x{:02x} (protocol 0/1 text opcodes "
                                "and out-of-band buffers are not implemented)",
                                op));
        }
    }
}

std::string key_text(const Value& key) {
    switch (key.kind) {
        case Kind::String:
            return key.text;
        case Kind::Int:
            return std::to_string(key.integer);
        default:
            return fmt::format("<{} key>", kind_name(key.kind));
    }
}

bool checked_mul(std::int64_t a, std::int64_t b, std::int64_t& out) {
    return !__builtin_mul_overflow(a, b, &out);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// TorchSaveTensor

std::int64_t TorchSaveTensor::numel() const {
    std::int64_t n = 1;
    for (const auto d : shape) {
        n *= d;
    }
    return n;
}

std::size_t torch_dtype_size(TorchDtype dtype) {
    switch (dtype) {
        case TorchDtype::Bool:
        case TorchDtype::Byte:
        case TorchDtype::Char:
            return 1;
        case TorchDtype::Half:
        case TorchDtype::BFloat16:
        case TorchDtype::Short:
            return 2;
        case TorchDtype::Float:
        case TorchDtype::Int:
            return 4;
        case TorchDtype::Double:
        case TorchDtype::Long:
        case TorchDtype::ComplexFloat:
            return 8;
        case TorchDtype::ComplexDouble:
            return 16;
    }
    return 0;
}

const char* torch_dtype_name(TorchDtype dtype) {
    switch (dtype) {
        case TorchDtype::Double:
            return "Double";
        case TorchDtype::Float:
            return "Float";
        case TorchDtype::Half:
            return "Half";
        case TorchDtype::BFloat16:
            return "BFloat16";
        case TorchDtype::Long:
            return "Long";
        case TorchDtype::Int:
            return "Int";
        case TorchDtype::Short:
            return "Short";
        case TorchDtype::Char:
            return "Char";
        case TorchDtype::Byte:
            return "Byte";
        case TorchDtype::Bool:
            return "Bool";
        case TorchDtype::ComplexFloat:
            return "ComplexFloat";
        case TorchDtype::ComplexDouble:
            return "ComplexDouble";
    }
    return "?";
}

std::uint64_t TorchSaveTensor::nbytes() const {
    return static_cast<std::uint64_t>(numel()) * torch_dtype_size(dtype);
}

bool TorchSaveTensor::is_contiguous() const {
    std::int64_t expected = 1;
    for (std::size_t i = shape.size(); i-- > 0;) {
        if (shape[i] != 1 && stride[i] != expected) {
            return numel() == 0;
        }
        expected *= shape[i];
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// TorchSaveFile

TorchSaveFile::TorchSaveFile(std::vector<std::filesystem::path> parts)
    : zip_(std::make_unique<ZipReader>(std::move(parts))) {
    const std::string file = zip_->describe();
    const ZipEntry* pickle = nullptr;
    for (const ZipEntry& e : zip_->entries()) {
        const auto slash = e.name.find('/');
        if (slash != std::string::npos &&
            e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
            pickle = &e;
            archive_ = e.name.substr(0, slash);
            break;
        }
    }
    EVOSCOPE_CHECK_FORMAT(pickle != nullptr,
                          "'{}': no '<archive>/data.pkl' entry: a zip, but not a torch.save "
                          "checkpoint",
                          file);
    if (const ZipEntry* order = zip_->find(archive_ + "/byteorder")) {
        const auto bytes = zip_->read(*order);
        const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        EVOSCOPE_CHECK_FORMAT(
            text == "little", "'{}': byte order '{}' is not supported", file, text);
    }

    const std::vector<std::byte> pickle_bytes = zip_->read(*pickle);
    Unpickler unpickler(pickle_bytes, fmt::format("'{}' ({})", file, pickle->name));
    const Value* root = unpickler.run();
    EVOSCOPE_CHECK_FORMAT(root->kind == Kind::Dict,
                          "'{}': the checkpoint holds a {}, not a state dict",
                          file,
                          kind_name(root->kind));

    // Unwrap {"state_dict": {...}, "epoch": ...}-style wrappers (see the header for the rule).
    const Value* state = root;
    std::string_view unwrapped_key;
    bool has_tensor = false;
    for (const auto& [k, v] : root->entries) {
        has_tensor = has_tensor || v->kind == Kind::Tensor;
    }
    if (!has_tensor) {
        for (const std::string_view wrapper : {"state_dict", "model", "module"}) {
            for (const auto& [k, v] : root->entries) {
                if (k->kind == Kind::String && k->text == wrapper && v->kind == Kind::Dict) {
                    state = v;
                    unwrapped_key = wrapper;
                    break;
                }
            }
            if (state != root) {
                break;
            }
        }
    }
    if (state != root) {
        for (const auto& [k, v] : root->entries) {
            if (!(k->kind == Kind::String && k->text == unwrapped_key)) {
                skipped_.push_back(key_text(*k));
            }
        }
    }

    std::set<std::string> seen;
    // A pickle can make a dict contain itself; real state dicts nest a few levels at most.
    constexpr int kMaxDepth = 32;
    auto collect =
        [&](auto&& self, const Value& dict, const std::string& prefix, int depth) -> void {
        EVOSCOPE_CHECK_FORMAT(depth < kMaxDepth,
                              "'{}': dicts nested deeper than {} levels at '{}'",
                              file,
                              kMaxDepth,
                              prefix);
        for (const auto& [k, v] : dict.entries) {
            std::string name = prefix + key_text(*k);
            if (v->kind == Kind::Dict) {
                self(self, *v, name + ".", depth + 1);
                continue;
            }
            EVOSCOPE_CHECK_FORMAT(seen.insert(name).second, "'{}': duplicate key '{}'", file, name);
            if (v->kind == Kind::Tensor) {
                TorchSaveTensor t = v->tensor;
                t.name = std::move(name);
                tensors_.push_back(std::move(t));
            } else {
                skipped_.push_back(std::move(name));
            }
        }
    };
    collect(collect, *state, "", 0);

    // Validate every storage and view now, so tensor() works on mapped bytes without checks.
    for (const TorchSaveTensor& t : tensors_) {
        const ZipEntry& entry = storage_entry(t);
        std::int64_t storage_bytes = 0;
        EVOSCOPE_CHECK_FORMAT(
            t.storage_numel >= 0 &&
                checked_mul(t.storage_numel,
                            static_cast<std::int64_t>(torch_dtype_size(t.dtype)),
                            storage_bytes) &&
                static_cast<std::uint64_t>(storage_bytes) == entry.size,
            "'{}': tensor '{}': storage '{}' has {} bytes, expected {} elements of {}",
            file,
            t.name,
            entry.name,
            entry.size,
            t.storage_numel,
            torch_dtype_name(t.dtype));
        bool ok = t.storage_offset >= 0;
        bool empty = false;
        std::int64_t last = t.storage_offset;
        for (std::size_t i = 0; i < t.shape.size() && ok; ++i) {
            std::int64_t span = 0;
            ok = t.shape[i] >= 0 && t.stride[i] >= 0 &&
                 (t.shape[i] == 0 || (checked_mul(t.shape[i] - 1, t.stride[i], span) &&
                                      !__builtin_add_overflow(last, span, &last)));
            empty = empty || t.shape[i] == 0;
        }
        EVOSCOPE_CHECK_FORMAT(ok && (empty || last < t.storage_numel),
                              "'{}': tensor '{}': view (offset {}, shape [{}], stride [{}]) is "
                              "outside its storage of {} elements",
                              file,
                              t.name,
                              t.storage_offset,
                              fmt::join(t.shape, ", "),
                              fmt::join(t.stride, ", "),
                              t.storage_numel);
    }
}

TorchSaveFile::~TorchSaveFile() = default;

std::string TorchSaveFile::describe() const {
    return zip_->describe();
}

const TorchSaveTensor* TorchSaveFile::find(const std::string& name) const {
    for (const TorchSaveTensor& t : tensors_) {
        if (t.name == name) {
            return &t;
        }
    }
    return nullptr;
}

const ZipEntry& TorchSaveFile::storage_entry(const TorchSaveTensor& t) const {
    const std::string name = archive_ + "/data/" + t.storage_key;
    const ZipEntry* entry = zip_->find(name);
    EVOSCOPE_CHECK_FORMAT(entry != nullptr,
                          "'{}': tensor '{}': storage entry '{}' is missing from the archive",
                          describe(),
                          t.name,
                          name);
    EVOSCOPE_CHECK_FORMAT(entry->method == 0 && entry->compressed_size == entry->size,
                          "'{}': tensor '{}': storage entry '{}' is compressed (method {}); "
                          "torch.save stores storages uncompressed (was the archive re-zipped?)",
                          describe(),
                          t.name,
                          name,
                          entry->method);
    return *entry;
}

const std::byte* TorchSaveFile::storage_data(const TorchSaveTensor& t) const {
    return zip_->data(storage_entry(t));
}

void TorchSaveFile::read_storage(const TorchSaveTensor& t, std::span<std::byte> dst) const {
    const ZipEntry& entry = storage_entry(t);
    EVOSCOPE_ASSERT(dst.size() == entry.size);
    zip_->source().read(entry.data_offset, dst);
}

const std::byte* TorchSaveFile::mapped_data(const TorchSaveTensor& t) const {
    const std::byte* data = zip_->data(storage_entry(t));
    return data == nullptr
               ? nullptr
               : data + static_cast<std::size_t>(t.storage_offset) * torch_dtype_size(t.dtype);
}

void TorchSaveFile::evict(const TorchSaveTensor& t) const {
    const ZipEntry& entry = storage_entry(t);
    zip_->source().evict(entry.data_offset, entry.size);
}

std::vector<std::filesystem::path> checkpoint_parts(const std::filesystem::path& path) {
    if (std::filesystem::exists(path)) {
        return {path};
    }
    std::vector<std::filesystem::path> parts;
    for (std::size_t i = 0;; ++i) {
        std::filesystem::path part = path;
        part += ".part" + std::to_string(i);
        if (!std::filesystem::exists(part)) {
            break;
        }
        parts.push_back(std::move(part));
    }
    EVOSCOPE_CHECK(!parts.empty(),
                   "checkpoint '{}' not found (nor '{}.part0', ...)",
                   path.string(),
                   path.string());
    return parts;
}

}  // namespace evoscope
