Console.Error.WriteLine("EdgeShortcut trainer: under construction (issue 2).");
return 1;
