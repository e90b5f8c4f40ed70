// Reading a launcher's environment (torchrun, scripts/launch-local.sh, Slurm) into a rank, a world
// size and a rendezvous address. Needs no c10d, so every build can report a bad launch clearly.
#include <cstdlib>
#include <string>

#include "dfscan/status.hpp"
#include "train/distributed.hpp"

namespace dfscan::train {
namespace {

// A non-negative decimal integer no larger than `max`, or an error naming the variable.
int parse_count(const std::string& name, const std::string& text, long max) {
  std::size_t used = 0;
  long value = -1;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < 0 || value > max)
    throw Error(Status::error,
                name + "='" + text + "' is not an integer in [0, " + std::to_string(max) + "]");
  return static_cast<int>(value);
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out;
}

constexpr long kMaxRanks = 1L << 24;

}  // namespace

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::optional<DistributedEnv> read_distributed_env(const EnvLookup& env) {
  const auto get = [&](const std::string& name) {
    auto value = env(name);
    // An empty variable counts as unset, as a shell's `VAR= cmd` usually means.
    if (value && value->empty()) value.reset();
    return value;
  };
  DistributedEnv out;
  std::optional<std::string> rank, world, local, master, port;
  const auto torch_rank = get("RANK"), torch_world = get("WORLD_SIZE");
  if (torch_rank || torch_world) {
    if (!torch_rank || !torch_world)
      throw Error(Status::error, std::string(torch_rank ? "RANK" : "WORLD_SIZE") + " is set but " +
                                     (torch_rank ? "WORLD_SIZE" : "RANK") +
                                     " is not: a torchrun-style launch sets both");
    out.launcher = "torchrun";
    rank = torch_rank;
    world = torch_world;
    local = get("LOCAL_RANK");
    master = get("MASTER_ADDR");
    port = get("MASTER_PORT");
    out.agent_store = get("TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True";
    if (out.agent_store) {
      if (const auto restarts = get("TORCHELASTIC_RESTART_COUNT"))
        out.restart_count = parse_count("TORCHELASTIC_RESTART_COUNT", *restarts, kMaxRanks);
    }
  } else if (const auto procid = get("SLURM_PROCID")) {
    out.launcher = "slurm";
    rank = procid;
    world = get("SLURM_NTASKS");
    if (!world) world = get("SLURM_NPROCS");  // the older name
    if (!world) throw Error(Status::error, "SLURM_PROCID is set but SLURM_NTASKS is not: launch with srun");
    local = get("SLURM_LOCALID");
    master = get("MASTER_ADDR");
    if (!master) master = get("SLURM_LAUNCH_NODE_IPADDR");
    port = get("MASTER_PORT");
    if (!port) {
      // Jobs sharing a node must not share a port: derive one from the job id.
      const auto job = get("SLURM_JOB_ID");
      const int id = job ? parse_count("SLURM_JOB_ID", *job, 0x7fffffffL) : 0;
      port = std::to_string(job ? 20000 + id % 20000 : 29500);
    }
  } else {
    return std::nullopt;
  }

  const std::string rank_name = out.launcher == "slurm" ? "SLURM_PROCID" : "RANK";
  const std::string world_name = out.launcher == "slurm" ? "SLURM_NTASKS" : "WORLD_SIZE";
  out.world_size = parse_count(world_name, *world, kMaxRanks);
  out.rank = parse_count(rank_name, *rank, kMaxRanks);
  if (out.world_size < 1) throw Error(Status::error, world_name + " must be at least 1");
  if (out.rank >= out.world_size)
    throw Error(Status::error, rank_name + "=" + std::to_string(out.rank) + " is not below " + world_name +
                                   "=" + std::to_string(out.world_size));
  const bool slurm = out.launcher == "slurm";
  // A single process needs no rendezvous, so only a larger world must have all three; what a world
  // of one is given is kept for `--distributed on`.
  const bool rendezvous = out.world_size > 1;
  if (rendezvous) {
    std::vector<std::string> missing;
    if (!local) missing.push_back(slurm ? "SLURM_LOCALID" : "LOCAL_RANK");
    if (!master) missing.push_back(slurm ? "MASTER_ADDR (or SLURM_LAUNCH_NODE_IPADDR)" : "MASTER_ADDR");
    if (!port) missing.push_back("MASTER_PORT");
    if (!missing.empty())
      throw Error(Status::error, "distributed launch (" + out.launcher + ", " + world_name + "=" +
                                     std::to_string(out.world_size) + ") without " + join_names(missing));
  }
  if (local) out.local_rank = parse_count(slurm ? "SLURM_LOCALID" : "LOCAL_RANK", *local, kMaxRanks);
  if (master) out.master_addr = *master;
  if (port) out.master_port = parse_count("MASTER_PORT", *port, 65535);
  if (rendezvous && out.master_port == 0) throw Error(Status::error, "MASTER_PORT must not be 0");
  return out;
}

}  // namespace dfscan::train
