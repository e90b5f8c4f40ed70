#pragma once
// How many CPUs this process may run on.

namespace dfscan {

// The CPUs in this process's affinity mask (taskset, numactl, Slurm and container cpusets), which
// is what thread pools should be sized by: std::thread::hardware_concurrency() counts every CPU of
// the machine, so a job given 4 of 64 cores started 64 threads per pool. CPU quotas that are not a
// mask (docker --cpus) are not seen. At least 1.
int usable_cpus();

}  // namespace dfscan
