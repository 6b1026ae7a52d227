package dev.droptrace.agent.lab;

/** A lab step (namespace, link, rule) that could not be done; the message names the command. */
public final class LabException extends RuntimeException {
    public LabException(String message) {
        super(message);
    }
}
