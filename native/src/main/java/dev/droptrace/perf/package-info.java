/**
 * Perf event rings read from Java, one type per kernel object, as cilium/ebpf's {@code perf} package
 * reads them in Go: {@link dev.droptrace.perf.PerfEventRing} is one CPU's {@code PERF_COUNT_SW_BPF_OUTPUT}
 * event (perf_event_open through the {@code syscall} function) with its mmap'd ring, read with an
 * acquire load of {@code data_head} and a release store of {@code data_tail}, records that wrap the
 * data area copied into a scratch segment, nothing allocated per record;
 * {@link dev.droptrace.perf.PerfEventArray} opens a pinned {@code BPF_MAP_TYPE_PERF_EVENT_ARRAY},
 * installs one ring per CPU into it, waits on all of them with one poll and drains them to a
 * {@link dev.droptrace.perf.PerfRecordHandler}. Installing fds into a perf event array takes the
 * slots from whoever held them before, and closing the map fd they were installed through removes
 * them again: a perf event array has one reader.
 */
package dev.droptrace.perf;
