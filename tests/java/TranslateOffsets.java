import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.mirror.RemoteClusterUtils;

/**
 * Asks Apache Kafka's own client library what a group's offsets are on the cluster it reads from.
 *
 * <p>Usage: {@code TranslateOffsets BOOTSTRAP REMOTE_ALIAS GROUP}. Calls the public
 * {@code RemoteClusterUtils.translateOffsets} against BOOTSTRAP and prints one line per partition,
 * {@code topic<TAB>partition<TAB>offset}, sorted by topic then partition.
 */
public final class TranslateOffsets {
    private TranslateOffsets() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: TranslateOffsets BOOTSTRAP REMOTE_ALIAS GROUP");
            System.exit(2);
        }
        // Only the result goes to stdout: whatever logging falls back to the console goes to stderr.
        PrintStream out = System.out;
        System.setOut(System.err);
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", args[0]);
        Map<TopicPartition, OffsetAndMetadata> offsets =
                RemoteClusterUtils.translateOffsets(props, args[1], args[2], Duration.ofSeconds(30));
        List<TopicPartition> partitions = new ArrayList<>(offsets.keySet());
        partitions.sort(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
        StringBuilder lines = new StringBuilder();
        for (TopicPartition tp : partitions) {
            lines.append(tp.topic()).append('\t').append(tp.partition()).append('\t')
                    .append(offsets.get(tp).offset()).append('\n');
        }
        out.print(lines);
        out.flush();
    }
}
