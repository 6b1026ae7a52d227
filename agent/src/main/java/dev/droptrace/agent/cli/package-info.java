/**
 * The {@code droptrace} command line (picocli): {@code agent} runs the node agent, {@code observe}
 * prints drops from a journal, {@code status} reports sources, counters and the journal,
 * {@code demo} shows live drops in throwaway network namespaces.
 */
package dev.droptrace.agent.cli;
