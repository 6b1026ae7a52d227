/**
 * The node's durable drop journal, over Chronicle Queue. {@link dev.droptrace.agent.journal.DropJournal}
 * is the single writer: each excerpt is a type byte followed by either a 128-byte drop record
 * ({@code 'E'}), a batch of them ({@code 'B'}: count u16 LE, record size u16 LE, then the
 * records; written between {@code beginBatch} and {@code endBatch}, one excerpt per up to 64 events,
 * because Chronicle's per-excerpt work was most of an event's cost), or a dictionary record ({@code 'D'}: kind u8, id u32 LE, length u32 LE, UTF-8
 * text) that gives a reason, interface, symbol, node, identity or policy its id; events refer to
 * strings only by id, and because the dictionary lives in the same queue the journal is
 * self-contained. {@link dev.droptrace.agent.journal.JournalReader} is one independent tailer that
 * resolves ids as it goes and fills {@link dev.droptrace.agent.event.DropView}s; malformed excerpts
 * are skipped and counted, never thrown. Retention ({@link dev.droptrace.agent.journal.RetentionPolicy})
 * deletes whole old cycle files by age and size; the writer rewrites the live dictionary into each
 * new cycle so the files that remain stay self-contained.
 */
package dev.droptrace.agent.journal;
