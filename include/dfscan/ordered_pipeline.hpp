#pragma once
// Runs `produce(i)` for i in [0, n) on worker threads and hands the results to `consume(i, value)`
// on the calling thread in index order. At most `capacity` produced values wait at any time, so
// memory stays bounded however many items there are. The scan pipeline uses it to overlap
// decoding and face detection with batched inference.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace dfscan {

template <typename T>
void ordered_pipeline(std::size_t n, int workers, std::size_t capacity,
                      const std::function<T(std::size_t)>& produce,
                      const std::function<void(std::size_t, T&&)>& consume,
                      const std::atomic<bool>* cancel = nullptr) {
  if (workers < 1) workers = 1;
  if (capacity < static_cast<std::size_t>(workers)) capacity = workers;
  std::mutex mu;
  std::condition_variable ready, room;
  std::map<std::size_t, T> done;
  std::size_t next_to_claim = 0, next_to_consume = 0;
  std::exception_ptr failure;
  bool stop = false;

  auto cancelled = [&] { return stop || (cancel && cancel->load()); };
  auto worker = [&] {
    for (;;) {
      std::size_t i;
      {
        std::unique_lock<std::mutex> lock(mu);
        // Claim the next index only while the window ahead of the consumer has room.
        room.wait(lock, [&] {
          return cancelled() || next_to_claim >= n || next_to_claim < next_to_consume + capacity;
        });
        if (cancelled() || next_to_claim >= n) return;
        i = next_to_claim++;
      }
      try {
        T value = produce(i);
        std::lock_guard<std::mutex> lock(mu);
        done.emplace(i, std::move(value));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failure) failure = std::current_exception();
        stop = true;
      }
      ready.notify_all();
    }
  };

  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) threads.emplace_back(worker);
  auto join_all = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    room.notify_all();
    for (auto& t : threads) t.join();
  };

  try {
    while (next_to_consume < n) {
      T value;
      {
        std::unique_lock<std::mutex> lock(mu);
        ready.wait(lock, [&] { return cancelled() || done.count(next_to_consume) > 0; });
        if (done.count(next_to_consume) == 0) break;  // cancelled or failed
        auto it = done.find(next_to_consume);
        value = std::move(it->second);
        done.erase(it);
      }
      consume(next_to_consume, std::move(value));
      {
        std::lock_guard<std::mutex> lock(mu);
        ++next_to_consume;
      }
      room.notify_all();
    }
  } catch (...) {
    join_all();
    throw;
  }
  join_all();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace dfscan
