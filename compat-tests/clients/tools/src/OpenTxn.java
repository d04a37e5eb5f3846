// OpenTxn leaves a transaction open for the kafka-transactions.sh
// scenarios: a transactional producer (kafka-clients from the tools'
// jars) writes N records to partition 0 of TOPIC inside a transaction and
// the JVM halts without committing or aborting, so the broker keeps the
// transaction Ongoing until transaction.timeout.ms.
//
//   java -cp 'compat-tests/clients/tools/target/lib/*' OpenTxn.java BOOTSTRAP TOPIC TRANSACTIONAL_ID N TIMEOUT_MS
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

public class OpenTxn {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("transactional.id", args[2]);
        p.put("transaction.timeout.ms", args[4]);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        KafkaProducer<String, String> prod = new KafkaProducer<>(p);
        prod.initTransactions();
        prod.beginTransaction();
        int n = Integer.parseInt(args[3]);
        RecordMetadata first = null;
        for (int i = 0; i < n; i++) {
            RecordMetadata m = prod.send(new ProducerRecord<>(args[1], 0, "k" + i, "open " + i)).get();
            if (first == null) first = m;
        }
        System.out.println("first_offset=" + first.offset());
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }
}
