/**
 * Network namespaces by name: running a piece of work inside one, so that sockets it opens live there.
 * Tests and the demo use it to send traffic between the throwaway namespaces they create.
 */
package dev.droptrace.netns;
