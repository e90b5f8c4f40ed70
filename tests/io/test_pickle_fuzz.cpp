// Mutated pickles must end in a dfscan::Error or a result, never in a crash or another exception.
// Run under DFSCAN_SANITIZE to catch out-of-bounds reads.
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <random>

#include "dfscan/status.hpp"
#include "io/torch_pickle.hpp"

namespace fs = std::filesystem;
using dfscan::io::detail::unpickle_tensor_dict;

namespace {

std::string data_pkl(const std::string& fixture) {
  caffe2::serialize::PyTorchStreamReader reader(
      (fs::path(DFSCAN_SOURCE_DIR) / "tests/data/io" / fixture).string());
  auto [ptr, size] = reader.getRecord("data.pkl");
  return std::string(static_cast<const char*>(ptr.get()), size);
}

// Zero-filled storages of the declared size, capped so that a mutated size cannot exhaust memory.
c10::Storage zero_storage(const std::string&, at::ScalarType dtype, int64_t numel) {
  auto bytes = static_cast<size_t>(numel) * dfscan::io::detail::element_size(dtype);
  if (bytes > (size_t{1} << 20))
    throw dfscan::Error(dfscan::Status::too_large, "storage too large for the test");
  c10::Storage storage(c10::Storage::use_byte_size_t(), static_cast<int64_t>(bytes), at::getCPUAllocator(),
                       false);
  if (bytes) std::memset(storage.data(), 0, bytes);
  return storage;
}

void survive(const std::string& pickle, size_t& loaded, size_t& refused) {
  try {
    auto entries = unpickle_tensor_dict(pickle, zero_storage);
    for (auto& [name, t] : entries) (void)t.sum().item<double>();  // touches every element of every view
    ++loaded;
  } catch (const dfscan::Error& e) {
    ASSERT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    ++refused;
  }
}

}  // namespace

TEST(PickleFuzz, MutationsNeverCrash) {
  std::mt19937 rng(1234);
  for (const char* fixture : {"wrapped_state_dict.pth", "views.pth", "dtypes.pth", "protocol4.pth"}) {
    const std::string original = data_pkl(fixture);
    size_t loaded = 0, refused = 0;
    survive(original, loaded, refused);
    ASSERT_EQ(loaded, 1u) << fixture;
    for (int round = 0; round < 3000; ++round) {
      std::string p = original;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        size_t at = rng() % p.size();
        switch (rng() % 4) {
          case 0:
            p[at] = static_cast<char>(rng());
            break;
          case 1:
            p[at] = static_cast<char>(p[at] ^ (1 << (rng() % 8)));
            break;
          case 2:
            p.erase(at, 1 + rng() % 8);
            break;
          case 3:
            p.resize(at);
            break;
        }
        if (p.empty()) break;
      }
      survive(p, loaded, refused);
    }
    EXPECT_GT(refused, 100u) << fixture;
  }
}

TEST(PickleFuzz, CyclesThroughTheMemoAreHarmless) {
  // l = []; l.append(l); {"w": l}
  std::string p =
      "\x80\x02}q\x00X\x01\x00\x00\x00w]q\x01h\x01"
      "as.";
  size_t loaded = 0, refused = 0;
  survive(p, loaded, refused);
  EXPECT_EQ(refused, 1u);
}
