// The native .safetensors model file: round trips, stable hashes, a file written by hand in Python from the
// published format, and hostile variants that must be refused without reading out of bounds.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "../common/expect_error.hpp"
#include "../common/scoped_temp_dir.hpp"
#include "dfscan/model_file.hpp"
#include "dfscan/status.hpp"

namespace fs = std::filesystem;
using dfscan::Error;
using dfscan::Status;
using dfscan::test::expect_error;
using namespace dfscan::io;
using nlohmann::json;

namespace {

fs::path fixture(const std::string& name) {
  return fs::path(DFSCAN_SOURCE_DIR) / "tests/data/io" / name;
}

class ModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dfscan_model_file_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { dfscan::test::remove_tree(dir_); }
  fs::path path(const std::string& name) const { return dir_ / name; }

  fs::path dir_;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

StateDict sample_state() {
  StateDict s;
  s.insert("conv.weight", torch::linspace(-2, 2, 24).reshape({2, 3, 2, 2}));
  s.insert("bn.num_batches_tracked", torch::tensor(12, torch::kLong));
  s.insert("mask", torch::tensor({true, false, true}));
  s.insert("half", torch::tensor({0.5, -4.0}, torch::kHalf));
  s.insert("bf", torch::tensor({1.0, 2.5}, torch::kBFloat16));
  s.insert("f64", torch::tensor({1e-300, 3.0}, torch::kDouble));
  s.insert("i32", torch::tensor({-1, 7}, torch::kInt));
  s.insert("u8", torch::tensor({0, 200}, torch::kByte));
  s.insert("transposed", torch::arange(6, torch::kFloat).reshape({2, 3}).t());  // not contiguous
  s.insert("empty", torch::zeros({0, 5}));
  return s;
}

json sample_manifest() {
  return {{"arch", "npr"}, {"threshold", 0.5}, {"config", {{"layers", {3, 4}}}}};
}

void expect_same(const StateDict& a, const StateDict& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [k, v] : a) {
    ASSERT_TRUE(b.contains(k)) << k;
    EXPECT_EQ(b.at(k).scalar_type(), v.scalar_type()) << k;
    EXPECT_TRUE(b.at(k).equal(v)) << k;
  }
}

// A safetensors file from a header (JSON text) and a data buffer; `header_length` overrides the prefix.
std::string st_file(const std::string& header, const std::string& data, int64_t header_length = -1) {
  uint64_t n = header_length < 0 ? header.size() : static_cast<uint64_t>(header_length);
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out + header + data;
}

}  // namespace

TEST_F(ModelFileTest, RoundTripKeepsTensorsAndManifest) {
  StateDict state = sample_state();
  std::string hash = write_model_file(path("m.safetensors"), state, sample_manifest());
  EXPECT_EQ(hash.rfind("sha256:", 0), 0u);
  EXPECT_EQ(hash.size(), 7u + 64u);
  EXPECT_FALSE(fs::exists(path("m.safetensors.tmp." + std::to_string(::getpid()))));

  ModelFile file = read_model_file(path("m.safetensors"));
  expect_same(state, file.tensors);
  json expected = sample_manifest();
  expected["hash"] = hash;
  EXPECT_EQ(file.manifest, expected);
  EXPECT_EQ(content_hash(file.tensors, file.manifest), hash);
  EXPECT_EQ(content_hash(state, sample_manifest()), hash);
  // Every tensor is aligned to its element size in the mapping.
  for (const auto& [k, t] : file.tensors)
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data_ptr()) % t.element_size(), 0u) << k;
}

TEST_F(ModelFileTest, SameWeightsGiveIdenticalFilesAndHashes) {
  std::string h1 = write_model_file(path("a.safetensors"), sample_state(), sample_manifest());
  // Insertion order and a stale "hash" in the manifest do not matter.
  StateDict reversed;
  StateDict s = sample_state();
  for (size_t i = s.size(); i-- > 0;) reversed.insert(s.entry(i).first, s.entry(i).second);
  json m = sample_manifest();
  m["hash"] = "sha256:stale";
  std::string h2 = write_model_file(path("b.safetensors"), s, m);
  EXPECT_EQ(h1, h2);
  EXPECT_EQ(slurp(path("a.safetensors")), slurp(path("b.safetensors")));
  EXPECT_EQ(content_hash(reversed, sample_manifest()), h1);

  json other = sample_manifest();
  other["threshold"] = 0.6;
  EXPECT_NE(content_hash(s, other), h1);
  StateDict changed;
  for (const auto& [k, v] : s) changed.insert(k, k == "u8" ? torch::tensor({0, 201}, torch::kByte) : v);
  EXPECT_NE(content_hash(changed, sample_manifest()), h1);
}

TEST_F(ModelFileTest, TensorsOutliveTheModelFileAndMayBeModified) {
  write_model_file(path("m.safetensors"), sample_state(), sample_manifest());
  const std::string bytes = slurp(path("m.safetensors"));
  at::Tensor w;
  {
    ModelFile file = read_model_file(path("m.safetensors"));
    w = file.tensors.at("conv.weight");
  }
  EXPECT_TRUE(w.equal(sample_state().at("conv.weight")));
  w.mul_(2);  // copy-on-write: the file stays as it was
  EXPECT_EQ(slurp(path("m.safetensors")), bytes);
}

TEST_F(ModelFileTest, Float16StorageHalvesTheFileAndReadsBackAsFloat32) {
  StateDict s;
  s.insert("w", torch::linspace(-3, 3, 4096));
  s.insert("n", torch::tensor(5, torch::kLong));
  write_model_file(path("f32.safetensors"), s, sample_manifest());
  std::string h16 = write_model_file(path("f16.safetensors"), s, sample_manifest(), WriteOptions{true});
  EXPECT_LT(fs::file_size(path("f16.safetensors")), fs::file_size(path("f32.safetensors")) * 6 / 10);

  ReadOptions up;
  up.to_float32 = true;
  ModelFile f = read_model_file(path("f16.safetensors"), up);
  EXPECT_EQ(f.manifest["hash"], h16);
  EXPECT_EQ(f.tensors.at("w").scalar_type(), at::kFloat);
  EXPECT_EQ(f.tensors.at("n").scalar_type(), at::kLong);
  EXPECT_LT((f.tensors.at("w") - s.at("w")).abs().max().item<float>(), 2e-3);

  StateDict big;
  big.insert("w", torch::tensor({1e6f}));
  expect_error([&] { write_model_file(path("x.safetensors"), big, sample_manifest(), WriteOptions{true}); },
               "outside the float16 range", Status::error);
}

TEST_F(ModelFileTest, FileWrittenByHandInPythonFromThePublishedFormat) {
  std::ifstream in(fixture("expected.json"));
  json expected = json::parse(in)["safetensors"];
  ModelFile f = read_model_file(fixture("handmade.safetensors"));  // verifies Python's hash too
  EXPECT_EQ(f.manifest, expected["manifest"]);
  ASSERT_EQ(f.tensors.size(), expected["tensors"].size());
  static const std::map<std::string, at::ScalarType> kDtypes{
      {"F32", at::kFloat},  {"I64", at::kLong}, {"BOOL", at::kBool}, {"F16", at::kHalf},
      {"F64", at::kDouble}, {"I32", at::kInt},  {"U8", at::kByte},   {"BF16", at::kBFloat16}};
  for (size_t i = 0; i < expected["tensors"].size(); ++i) {
    const auto& e = expected["tensors"][i];
    SCOPED_TRACE(e["key"].get<std::string>());
    EXPECT_EQ(f.tensors.keys()[i], e["key"]);  // file order
    const at::Tensor& t = f.tensors.at(e["key"]);
    EXPECT_EQ(t.scalar_type(), kDtypes.at(e["dtype"]));
    EXPECT_EQ(t.sizes().vec(), e["shape"].get<std::vector<int64_t>>());
    auto values = e["values"].get<std::vector<double>>();
    auto flat = t.to(at::kDouble).flatten();
    ASSERT_EQ(flat.numel(), static_cast<int64_t>(values.size()));
    for (size_t j = 0; j < values.size(); ++j)
      EXPECT_EQ(flat[static_cast<int64_t>(j)].item<double>(), values[j]);
  }
  expect_error([] { read_model_file(fixture("plain.safetensors")); }, "no dfscan manifest",
               Status::decode_error);
  ReadOptions plain;
  plain.require_manifest = false;
  ModelFile p = read_model_file(fixture("plain.safetensors"), plain);
  EXPECT_TRUE(p.manifest.is_null());
  EXPECT_EQ(p.tensors.keys(), (std::vector<std::string>{"weight", "count"}));
}

TEST_F(ModelFileTest, HostileFilesAreRefused) {
  ReadOptions plain;
  plain.require_manifest = false;
  const std::string data16(16, '\0');
  auto refuse = [&](const std::string& name, const std::string& bytes, const std::string& needle,
                    Status status) {
    SCOPED_TRACE(name);
    spit(path(name), bytes);
    expect_error([&] { read_model_file(path(name), plain); }, needle, status);
  };
  auto one = [](const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return R"({"t":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}";
  };
  refuse("empty", "", "empty file", Status::empty);
  refuse("tiny", "abc", "shorter than the 8-byte header length", Status::truncated);
  refuse("header_past_end", st_file(one("F32", "[4]", "[0,16]"), data16, 1000), "runs past the end",
         Status::truncated);
  refuse("huge_length", st_file("{}", "", int64_t{1} << 62), "runs past the end", Status::truncated);
  refuse("not_json", st_file("{not json", ""), "not valid JSON", Status::decode_error);
  refuse("not_object", st_file("[1,2]", ""), "not a JSON object", Status::decode_error);
  refuse("deep", st_file(std::string(5000, '[') + std::string(5000, ']'), ""), "nests too deeply",
         Status::decode_error);
  refuse("overlap",
         st_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                 data16),
         "overlaps", Status::decode_error);
  refuse("gap",
         st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
                 data16),
         "leaves a gap", Status::decode_error);
  refuse("out_of_range", st_file(one("F32", "[8]", "[0,32]"), data16), "data buffer holds 16",
         Status::truncated);
  refuse("truncated_buffer", st_file(one("F32", "[4]", "[0,16]"), data16.substr(0, 9)), "data buffer holds 9",
         Status::truncated);
  refuse("trailing_bytes", st_file(one("F32", "[2]", "[0,8]"), data16), "data buffer holds 16",
         Status::decode_error);
  refuse("shape_mismatch", st_file(one("F32", "[3]", "[0,16]"), data16), "different byte size",
         Status::decode_error);
  refuse("begin_after_end", st_file(one("U8", "[0]", "[16,0]"), data16), "begin after they end",
         Status::decode_error);
  refuse("shape_overflow", st_file(one("F64", "[4294967296,4294967296]", "[0,16]"), data16), "overflows",
         Status::decode_error);
  refuse("product_overflow", st_file(one("F64", "[2305843009213693952]", "[0,16]"), data16),
         "different byte size", Status::decode_error);
  refuse("negative_shape", st_file(one("F32", "[-4]", "[0,16]"), data16), "non-negative integer",
         Status::decode_error);
  refuse("float_offset", st_file(one("F32", "[4]", "[0,16.0]"), data16), "non-negative integer",
         Status::decode_error);
  refuse("unknown_dtype", st_file(one("C64", "[2]", "[0,16]"), data16), "unsupported dtype 'C64'",
         Status::unsupported);
  refuse("missing_field", st_file(R"({"t":{"dtype":"F32","shape":[4]}})", data16), "needs dtype, shape and",
         Status::decode_error);
  refuse("non_string_metadata", st_file(R"({"__metadata__":{"dfscan":{"arch":"x"}}})", ""), "is not a string",
         Status::decode_error);
  refuse("metadata_not_object", st_file(R"({"__metadata__":[1]})", ""), "__metadata__ is not an object",
         Status::decode_error);
  refuse("manifest_not_json", st_file(R"({"__metadata__":{"dfscan":"{oops"}})", ""),
         "manifest is not valid JSON", Status::decode_error);
  refuse("bool_byte", st_file(one("BOOL", "[2]", "[0,2]"), std::string("\x01\x02", 2)), "bool bytes",
         Status::decode_error);
}

TEST_F(ModelFileTest, ChangedContentFailsTheHashCheck) {
  write_model_file(path("m.safetensors"), sample_state(), sample_manifest());
  std::string bytes = slurp(path("m.safetensors"));
  bytes[bytes.size() - 20] ^= 1;  // inside the last tensor's data
  spit(path("m.safetensors"), bytes);
  expect_error([&] { read_model_file(path("m.safetensors")); }, "content hash mismatch",
               Status::decode_error);
  ReadOptions trust;
  trust.verify_hash = false;
  EXPECT_NO_THROW(read_model_file(path("m.safetensors"), trust));
}

TEST_F(ModelFileTest, ParityWeightsSurviveConversion) {
  auto pth = fs::path(DFSCAN_SHARED_DIR) / "parity/npr_resnet50/weights.pth";
  if (!fs::exists(pth)) GTEST_SKIP() << "no parity fixture";
  StateDict state = read_pth(pth);
  std::string hash = write_model_file(path("npr.safetensors"), state, {{"arch", "npr"}});
  ModelFile f = read_model_file(path("npr.safetensors"));
  expect_same(state, f.tensors);
  EXPECT_EQ(f.manifest["hash"], hash);
}

TEST_F(ModelFileTest, MutatedFilesNeverCrash) {
  const std::string original = slurp(fixture("handmade.safetensors"));
  ReadOptions lenient;
  lenient.require_manifest = false;
  lenient.verify_hash = false;
  std::mt19937 rng(99);
  size_t loaded = 0, refused = 0;
  for (int round = 0; round < 600; ++round) {
    std::string bytes = original;
    // Most edits land in the header, where the validation is.
    size_t header_end = std::min<size_t>(bytes.size(), 8 + 700);
    for (int e = 0, n = 1 + static_cast<int>(rng() % 3); e < n; ++e) {
      size_t at = rng() % header_end;
      switch (rng() % 3) {
        case 0:
          bytes[at] = static_cast<char>(rng());
          break;
        case 1:
          bytes[at] = "0123456789[]{},:\"-"[rng() % 18];
          break;
        case 2:
          bytes.resize(std::max<size_t>(at, 1));
          break;
      }
      header_end = std::min(header_end, bytes.size());
    }
    spit(path("m.safetensors"), bytes);
    try {
      ModelFile f = read_model_file(path("m.safetensors"), lenient);
      for (const auto& [k, t] : f.tensors) (void)t.to(at::kDouble).sum().item<double>();
      ++loaded;
    } catch (const Error& e) {
      ASSERT_EQ(std::string(e.what()).find('\n'), std::string::npos);
      ++refused;
    }
  }
  EXPECT_GT(refused, 200u);
  EXPECT_GT(loaded, 0u);
}
