/**
 * The node agent itself: {@link dev.droptrace.agent.Agent} opens the journal, starts the pod-identity
 * cache and the drop sources, and writes {@link dev.droptrace.agent.AgentStatus} once a second into
 * the journal directory, where {@code droptrace status} reads it.
 */
package dev.droptrace.agent;
