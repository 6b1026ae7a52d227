/**
 * The edge where drops become text: {@link dev.droptrace.agent.output.JsonFormatter} (one JSON
 * object per line with the field names fixed by DESIGN section 3, used by {@code -o json}, the HTTP
 * stream and export), {@link dev.droptrace.agent.output.TableFormatter} and {@link
 * dev.droptrace.agent.output.CompactFormatter} for people, and {@link
 * dev.droptrace.agent.output.DropFilter}, the {@code hubble observe}-shaped filter the CLI builds
 * from its options. Everything here reads {@link dev.droptrace.agent.event.DropView}s and may
 * allocate.
 */
package dev.droptrace.agent.output;
