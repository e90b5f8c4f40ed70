#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <stdexcept>

#include "dfscan/ordered_pipeline.hpp"

TEST(OrderedPipeline, ConsumesInIndexOrderWithBoundedLookahead) {
  const std::size_t n = 200;
  std::atomic<int> in_flight{0}, max_in_flight{0};
  std::vector<std::size_t> order;
  dfscan::ordered_pipeline<int>(
      n, 3, 4,
      [&](std::size_t i) {
        int now = ++in_flight;
        int prev = max_in_flight.load();
        while (now > prev && !max_in_flight.compare_exchange_weak(prev, now)) {
        }
        // Uneven work so later items often finish first.
        std::this_thread::sleep_for(std::chrono::microseconds((i * 7919) % 300));
        return static_cast<int>(i * 2);
      },
      [&](std::size_t i, int&& v) {
        --in_flight;
        EXPECT_EQ(v, static_cast<int>(i * 2));
        order.push_back(i);
      });
  ASSERT_EQ(order.size(), n);
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(order[i], i);
  EXPECT_LE(max_in_flight.load(), 4);
}

TEST(OrderedPipeline, ProducerExceptionPropagates) {
  EXPECT_THROW(dfscan::ordered_pipeline<int>(
                   10, 2, 2,
                   [](std::size_t i) -> int {
                     if (i == 5) throw std::runtime_error("boom");
                     return 0;
                   },
                   [](std::size_t, int&&) {}),
               std::runtime_error);
}

TEST(OrderedPipeline, CancelStopsEarly) {
  std::atomic<bool> cancel{false};
  std::size_t consumed = 0;
  dfscan::ordered_pipeline<int>(
      1000, 2, 2, [](std::size_t) { return 1; },
      [&](std::size_t i, int&&) {
        if (++consumed == 10) cancel = true;
      },
      &cancel);
  EXPECT_LT(consumed, 1000u);
}
