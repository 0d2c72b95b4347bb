DROP TABLE limen_release;
